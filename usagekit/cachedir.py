"""The cache folder: where it is, and that it is private (0700, ours) before anything is kept in it.

Downloaded exports (``files/``) and parsed frames (``parsed/``) are customer data. Every path that
creates a folder of the cache creates it ``0700`` whatever the umask (files are created ``0600`` by their
writers). A folder that exists is checked before use:

- owned by us but open to others (group or other bits): tightened to ``0700``, with one warning;
- owned by another user, a symbolic link owned by another user, or not a folder: refused with a
  :class:`~usagekit.errors.ConfigurationError` saying why and what to do;
- each parent below the home or temporary root (or up to ``/`` for a cache elsewhere) owned by another
  user than us or root, or writable by others without the sticky bit: refused, since whoever can write
  there can swap our folder for theirs.

The root is ``cache_dir``, else ``$USAGEKIT_CACHE_DIR``, else the platform's user cache folder.

>>> cache_root("/tmp/somewhere")
PosixPath('/tmp/somewhere')
>>> import tempfile, stat
>>> folder = private_folder(tempfile.mkdtemp(), "files", "x")
>>> oct(stat.S_IMODE(folder.stat().st_mode))
'0o700'
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import warnings
from pathlib import Path

from usagekit.errors import CacheWarning, ConfigurationError

__all__ = ["CACHE_ENV", "cache_root", "existing_private_folder", "owned_file", "private_folder"]

CACHE_ENV = "USAGEKIT_CACHE_DIR"
_FIX = f"choose a private folder with cache_dir= or ${CACHE_ENV}, or remove it so usagekit can create its own"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$USAGEKIT_CACHE_DIR``, else the platform's user cache.

    >>> cache_root("/tmp/chosen").name
    'chosen'
    """
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("usagekit"))


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None  # no owners to check on Windows


def _stop_points() -> set[Path]:
    """The roots whose own safety is the system's business: home, the temporary folder, ``/``."""
    points = {Path(tempfile.gettempdir()).resolve(), Path("/")}
    with contextlib.suppress(RuntimeError, KeyError):  # no home folder
        points.add(Path.home().resolve())
    return points


def _check_parents(folder: Path, uid: int) -> None:
    """Refuse ``folder`` when a parent could be rewritten by someone else (see the module docs)."""
    stops = _stop_points()
    parent = folder.resolve().parent
    while parent not in stops and parent != parent.parent:
        info = parent.stat()
        if info.st_uid not in (uid, 0):
            raise ConfigurationError(
                f"the cache folder {folder} lies inside {parent}, which belongs to another user "
                f"(uid {info.st_uid}): that user could replace it; {_FIX}"
            )
        if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
            raise ConfigurationError(
                f"the cache folder {folder} lies inside {parent}, which anyone may write to (mode "
                f"{stat.S_IMODE(info.st_mode):04o}, no sticky bit): anyone could replace it; {_FIX}"
            )
        parent = parent.parent


def _check(folder: Path, uid: int | None, *, link_ok: bool) -> str | None:
    """Refuse a folder that is not ours; tighten one of ours that others may enter (said in the result)."""
    try:
        link = folder.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(link.st_mode) and (not link_ok or (uid is not None and link.st_uid not in (uid, 0))):
        raise ConfigurationError(
            f"the cache folder {folder} is a symbolic link{'' if link_ok else ' inside the cache'} "
            f"(owned by uid {link.st_uid}); usagekit does not follow it; {_FIX}"
        )
    info = folder.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"the cache folder {folder} is not a folder; {_FIX}")
    if uid is None:
        return None
    if info.st_uid != uid:
        raise ConfigurationError(
            f"the cache folder {folder} belongs to another user (uid {info.st_uid}, you are {uid}); "
            f"usagekit keeps customer data there and will not use a folder someone else controls; {_FIX}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return None
    os.chmod(folder, 0o700)
    return f"{folder} (was {mode:04o})"


def _warn(tightened: list[str | None]) -> None:
    """One warning for every folder :func:`_check` tightened in one call."""
    done = [item for item in tightened if item]
    if done:
        warnings.warn(
            f"usagekit tightened the cache folder{'s' if len(done) > 1 else ''} {', '.join(done)} to "
            "mode 0700: they hold customer data and must be private to you",
            CacheWarning,
            stacklevel=3,
        )


def _make(folder: Path) -> None:
    """Create ``folder`` with mode 0700 (mkdir's mode is masked by the umask: set it again)."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        return
    os.chmod(folder, 0o700)


def private_folder(root: str | os.PathLike[str], *parts: str) -> Path:
    """``root/parts…``, every level created ``0700`` or checked (tightened, or refused) as the module says.

    Raises :class:`~usagekit.errors.ConfigurationError` for a folder that is not safe to use.

    >>> import tempfile
    >>> private_folder(tempfile.mkdtemp(), "parsed").name
    'parsed'
    """
    root = Path(root)
    uid = _uid()
    missing = []
    probe = root.absolute()
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    if uid is not None:
        _check_parents(root if not missing else missing[-1], uid)
    tightened = [] if missing else [_check(root, uid, link_ok=True)]
    for folder in reversed(missing):
        _make(folder)
        tightened.append(_check(folder, uid, link_ok=False))  # someone may have made it first
    path = root
    for part in parts:
        path = path / part
        _make(path)
        tightened.append(_check(path, uid, link_ok=False))
    _warn(tightened)
    return path


def existing_private_folder(path: str | os.PathLike[str]) -> bool:
    """True when the cache folder ``path`` exists and is safe to read from (it is checked, never created).

    >>> existing_private_folder("/nonexistent/usagekit")
    False
    """
    path = Path(path)
    if not os.path.lexists(path):
        return False
    uid = _uid()
    if uid is not None:
        _check_parents(path, uid)
    _warn([_check(path, uid, link_ok=False)])
    return True


def owned_file(info: os.stat_result) -> bool:
    """True when ``info`` (an ``lstat``) is a regular file of ours that nobody else may write.

    >>> import tempfile
    >>> owned_file(os.lstat(tempfile.mkstemp()[1]))
    True
    """
    uid = _uid()
    return (
        stat.S_ISREG(info.st_mode)
        and (uid is None or info.st_uid == uid)
        and not stat.S_IMODE(info.st_mode) & 0o022
    )
