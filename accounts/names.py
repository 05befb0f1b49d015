import re
import unicodedata


def name_key(name: str) -> str:
    """The form two names are compared in: trimmed, NFKC-normalised, case-folded.

    Stored in a uniquely-indexed column because the databases' own ``lower()`` differs
    (SQLite's folds ASCII only).
    """
    return unicodedata.normalize("NFKC", name.strip()).casefold()


def login_slug(name: str) -> str:
    """Grafana's login slug: lower-case, runs of spaces become one dash."""
    return re.sub(r"\s+", "-", name.strip().lower())


def fits(name: str, limit: int) -> bool:
    """Whether ``name`` and the forms derived from it stay within ``limit`` characters
    (case folding and NFKC can make a name longer: "ß" folds to "ss")."""
    return len(name) <= limit and len(name_key(name)) <= limit and len(login_slug(name)) <= limit


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be stored and sent as UTF-8. JSON's ``"\\ud800"`` decodes to a lone
    surrogate, which is a Python string but no text: the database would fail on it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
