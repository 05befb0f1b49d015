import pytest

from tokens.models import ServiceAccountToken


@pytest.fixture
def fail_token_inserts(monkeypatch):
    """``fail(name, message)``: from then on, inserting tokens fails whenever one of them is
    named ``name`` (the migration's bulk insert and its key-by-key retry alike)."""

    def fail(name: str, message: str = "disk on fire") -> None:
        real = ServiceAccountToken.objects.bulk_create

        def flaky(objs, *args, **kwargs):
            objs = list(objs)
            if any(token.name == name for token in objs):
                raise RuntimeError(message)
            return real(objs, *args, **kwargs)

        monkeypatch.setattr(ServiceAccountToken.objects, "bulk_create", flaky)

    return fail
