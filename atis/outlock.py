"""One atis command at a time per output folder: two runs writing into one folder would overwrite each other's
files (the Verilator model, the build tree, the cached rows). The lock is an advisory ``flock`` on a file in the
folder, held until the process exits, so a crashed or killed run never leaves a stale lock behind."""
from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:          # Windows: no advisory locks; folders are not guarded there
    fcntl = None

__all__ = ["FolderBusy", "lock_folder"]

_held: dict[Path, int] = {}


class FolderBusy(RuntimeError):
    """Another process holds the folder's lock."""


def lock_folder(folder: Path, name: str = ".atis.lock") -> None:
    """Take ``folder``'s lock (created with the folder) for the rest of this process, or raise :class:`FolderBusy`
    naming the process that holds it. Taking a lock this process already holds is a no-op."""
    path = (folder / name).resolve()
    if fcntl is None or path in _held:
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise FolderBusy(f"{folder}: another atis command (pid {holder}) is writing there; wait for it to finish "
                         f"or choose another folder") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _held[path] = fd
