from django.db import models


class Role(models.TextChoices):
    """Org roles, highest first. ``None`` is Grafana's "No basic role"."""

    ADMIN = "Admin", "Admin"
    EDITOR = "Editor", "Editor"
    VIEWER = "Viewer", "Viewer"
    NONE = "None", "No basic role"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: "Role") -> bool:
        """True when this role is ``other`` or above it."""
        return self.rank >= Role(other).rank


_RANKS = {Role.ADMIN: 3, Role.EDITOR: 2, Role.VIEWER: 1, Role.NONE: 0}
