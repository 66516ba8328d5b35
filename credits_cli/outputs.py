"""Files the product writes: never over an input, always whole, never under a name someone planted.

* :func:`check_target` refuses, before anything is written, an output path that
  is the database (or its journal files) or an input of the command, however
  it is spelled (a relative path, a symlink, a hard link).
* :class:`AtomicFile` writes beside the target under a name made by
  ``mkstemp`` (random, created with ``O_EXCL``: a symlink planted there is
  never followed) and renames it into place only when everything was written;
  on any failure the temporary file is removed and the target is untouched.
  A new file is readable by its owner only, as the database is; a file that
  is replaced keeps its permissions.
  The temporary name carries the process id, so one left behind by a process
  that was killed is swept by the next write to the same folder.
* :func:`write_folder` writes several files into a folder all or none.

Errors of the file system (a missing folder, no permission, a full disk)
become one :class:`~credits_cli.errors.InvalidInput` line naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _

#: What a temporary file is called beside its target: ``.NAME.credits-PID-RANDOM.tmp``.
_TMP_MARK = ".credits-"
_TMP_SUFFIX = ".tmp"


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same inode when both exist, else the same resolved path."""
    ia, ib = _identity(a), _identity(b)
    if ia is not None and ib is not None:
        return ia == ib
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return os.path.abspath(a) == os.path.abspath(b)


def check_target(path: Path, *, what: str, inputs: Iterable[Path] = (), database: Path | None = None) -> None:
    """Refuse an output that would destroy the database or one of the command's inputs. ``what`` names
    the output in messages: its option (``"--xlsx"``, shown as it is) or a word marked with ``N_``."""
    shown = _(what)
    if database is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            if same_file(path, Path(f"{database}{suffix}")):
                # TRANSLATORS: {what} is an option (--xlsx) or a word naming the output; {path} a file's path.
                raise InvalidInput(_("{what} {path} is the database; choose another file").format(
                    what=shown, path=path))
    for source in inputs:
        if same_file(path, source):
            # TRANSLATORS: {what} is an option (--rejects) or a word naming the output; {path} a file's path.
            raise InvalidInput(_("{what} {path} is one of the input files; choose another file").format(
                what=shown, path=path))
    if path.is_dir():
        # TRANSLATORS: {what} is an option (--xlsx) or a word naming the output; {path} a folder's path.
        raise InvalidInput(_("{what} {path} is a folder; give a file name").format(what=shown, path=path))


def describe_os_error(exc: OSError, path: Path | str) -> str:
    """One line for a file-system error: ``cannot write out/x.csv: no space left on device``. ``path``
    is a path, or words that name the file (translated by the caller)."""
    known = _OS_ERRORS.get(exc.errno or 0)
    reason = _(known) if known else os_reason(exc)
    # TRANSLATORS: {path} is a file's path; {reason} why it cannot be written (no space left on device).
    return _("cannot write {path}: {reason}").format(path=path, reason=reason)


def os_reason(exc: OSError) -> str:
    """What the system said of a file-system error, in lower case (``no space left on device``), without
    the ``[errno 28]`` in front of it of an error that carries no ``strerror`` (polars passes a file's
    error on so)."""
    return (exc.strerror or re.sub(r"^\[Errno \d+\]\s*", "", str(exc))).lower()


#: The file-system errors said in our words (any other is the system's own).
_OS_ERRORS = {
    # TRANSLATORS: why a file cannot be written, as in "cannot write {path}: {reason}" (so are the reasons
    # listed with it in credits_cli/outputs.py).
    errno.ENOSPC: N_("no space left on device"),
    errno.EDQUOT: N_("disk quota exceeded"),
    errno.EACCES: N_("permission denied"),
    errno.EPERM: N_("operation not permitted"),
    errno.ENOENT: N_("no such folder"),
    errno.EROFS: N_("read-only file system"),
    errno.ENOTDIR: N_("a part of the path is not a folder"),
}


def _pid_of(name: str) -> int | None:
    """The process id in a temporary name of ours, or None."""
    if not name.endswith(_TMP_SUFFIX) or _TMP_MARK not in name:
        return None
    tail = name.rsplit(_TMP_MARK, 1)[1]
    pid = tail.split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def sweep(folder: Path, name: str) -> None:
    """Remove temporary files of ``name`` left in ``folder`` by processes that no longer run."""
    prefix = f".{name}{_TMP_MARK}"
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid = _pid_of(entry.name)
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                os.unlink(entry.path)


class AtomicFile:
    """A file written under a safe temporary name and renamed into place by :meth:`commit`.

    Use as a context manager: leaving it without :meth:`commit` (an exception)
    removes the temporary file. ``binary`` gives a byte stream; otherwise
    UTF-8 text with ``newline=""`` (what the csv module wants).
    """

    # TRANSLATORS: a file the program writes, named in "{what} {path} is a folder; give a file name" and the like.
    def __init__(self, target: Path, *, what: str = N_("output"), binary: bool = False) -> None:
        self.target = Path(target)
        self.what = what
        folder = self.target.parent if str(self.target.parent) else Path(".")
        sweep(folder, self.target.name)
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.target.name}{_TMP_MARK}{os.getpid()}-",
                                       suffix=_TMP_SUFFIX)
        except OSError as exc:
            raise InvalidInput(describe_os_error(exc, self.target)) from None
        self.tmp = Path(tmp)
        try:
            self.handle: IO[Any] = (
                os.fdopen(fd, "w+b") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
            )
        except BaseException:
            os.close(fd)
            self.discard()
            raise
        self.done = False

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.done:
            self.discard()

    def commit(self) -> None:
        """Flush, close and rename into place; a failure leaves the target as it was."""
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.chmod(self.tmp, _mode_for(self.target))
            os.replace(self.tmp, self.target)
        except OSError as exc:
            self.discard()
            raise InvalidInput(describe_os_error(exc, self.target)) from None
        self.done = True

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()


def _mode_for(target: Path) -> int:
    """Keep an existing file's permissions; a new file is the owner's alone, as the database is (it holds
    the same people's calls)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        return 0o600


@contextlib.contextmanager
# TRANSLATORS: a file the program writes, named in "{what} {path} is a folder; give a file name" and the like.
def writing(target: Path, *, what: str = N_("output"), binary: bool = False) -> Iterator[IO[Any]]:
    """``with writing(path) as handle: ...``: the file appears whole, or not at all."""
    atomic = AtomicFile(target, what=what, binary=binary)
    with atomic:
        try:
            yield atomic.handle
        except OSError as exc:
            raise InvalidInput(describe_os_error(exc, target)) from None
        atomic.commit()


@contextlib.contextmanager
def scratch_folder(purpose: str) -> Iterator[Path]:
    """A private temporary folder (``credits-PURPOSE-PID-RANDOM`` in the temporary directory), removed
    at the end; folders of the same purpose left by processes that were killed are removed first."""
    base = Path(tempfile.gettempdir())
    prefix = f"credits-{purpose}-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            pid = entry.name[len(prefix):].split("-", 1)[0] if entry.name.startswith(prefix) else ""
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and entry.is_dir():
                import shutil

                shutil.rmtree(entry.path, ignore_errors=True)
    try:
        folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
    except OSError as exc:
        raise InvalidInput(describe_os_error(exc, base)) from None
    try:
        yield folder
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


#: The marker a folder output leaves, so that writing the same report again into it is allowed.
FOLDER_MARK = ".credits-report"


def write_folder(
    folder: Path, files: dict[str, Callable[[IO[Any]], Any]], *, what: str, database: Path | None = None
) -> dict[str, Any]:
    """Write ``files`` (name -> writer of an open text handle) into ``folder``: all of them or none.

    A folder that already holds a file of one of these names is refused unless
    an earlier run of this command wrote it (it left :data:`FOLDER_MARK`): the
    product never overwrites a file the user did not name. Every file is
    written under a temporary name first; only when all are complete are they
    renamed into place. Returns each writer's result. ``what`` as for :func:`check_target`.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # TRANSLATORS: {path} is a folder's path; {reason} what the system said (permission denied).
        raise InvalidInput(_("cannot create {path}: {reason}").format(
            path=folder, reason=os_reason(exc))) from None
    if not folder.is_dir():
        # TRANSLATORS: {what} is an option (--csv) or a word naming the output; {path} a path.
        raise InvalidInput(_("{what} {path} is not a folder").format(what=_(what), path=folder))
    for name in files:
        check_target(folder / name, what=what, database=database)
    ours = (folder / FOLDER_MARK).is_file()
    clashes = sorted(name for name in files if (folder / name).exists())
    if clashes and not ours:
        shown = ", ".join(clashes[:3]) + (" ..." if len(clashes) > 3 else "")
        raise InvalidInput(
            # TRANSLATORS: {what} is an option (--csv) or a word naming the output; {path} a folder's path; {files}
            # names of files in it (a.csv, b.csv ...); credits is the program.
            _("{what} {path} already holds {files}, not written by credits; choose an empty or new folder").format(
                what=_(what), path=folder, files=shown)
        )
    pending: list[AtomicFile] = []
    results: dict[str, Any] = {}
    try:
        for name, write in files.items():
            atomic = AtomicFile(folder / name, what=what)
            pending.append(atomic)
            try:
                results[name] = write(atomic.handle)
                atomic.handle.flush()
                os.fsync(atomic.handle.fileno())
            except OSError as exc:
                raise InvalidInput(describe_os_error(exc, folder / name)) from None
        mark = AtomicFile(folder / FOLDER_MARK, what=what)
        pending.append(mark)
        # TRANSLATORS: the one line of a marker file left in a report's folder; "credits report" is a command.
        mark.handle.write(_("written by credits report; files here may be replaced by the next report") + "\n")
        for atomic in pending:
            atomic.commit()
    finally:
        for atomic in pending:
            if not atomic.done:
                atomic.discard()
    return results
