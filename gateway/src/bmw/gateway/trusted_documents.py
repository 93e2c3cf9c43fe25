"""Trusted documents: persisted operations, sent by hash instead of as text.

The registry is a committed file, ``gateway/trusted_documents.json``: ``{"<sha256 hex of the
document text>": "<document text>"}``, loaded once at start-up. A request names a document with
``documentId: "sha256:<hex>"`` (GraphQL-over-HTTP persisted documents) or with Apollo's
``extensions.persistedQuery.sha256Hash``, over POST or GET. Documents are only ever added by a
reviewed change to that file; a request cannot register one (unlike Apollo's automatic persisted
queries), which is what lets integrations be restricted to them."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from bmw.gateway.errors import ErrorCode, RequestRefused

_HEX = re.compile(r"[0-9a-f]{64}")
DOCUMENT_ID_PREFIX = "sha256:"


def default_registry_path() -> Path:
    """``gateway/trusted_documents.json`` of the source checkout this module lives in."""
    return Path(__file__).resolve().parents[3] / "trusted_documents.json"


def document_hash(document: str) -> str:
    """The registry key of a document: the sha256 of its UTF-8 text, in lowercase hex."""
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class TrustedDocuments:
    """The registry of trusted documents, by hash."""

    documents: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def load(cls, path: Path) -> TrustedDocuments:
        """Read the registry; refuses (at start-up) a file whose keys are not its documents' hashes."""
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise ValueError(f"{path}: expected an object of sha256 hex → document text")
        wrong = [key for key, document in raw.items() if key != document_hash(document)]
        if wrong:
            raise ValueError(f"{path}: keys are not the sha256 of their documents: {', '.join(sorted(wrong))}")
        return cls(MappingProxyType(dict(raw)))

    def __len__(self) -> int:
        return len(self.documents)

    def is_trusted(self, document: str) -> bool:
        """Whether this exact text is a registered document (sent by hash or in full)."""
        return document_hash(document) in self.documents

    def resolve(self, sha256: str, query: str | None) -> str:
        """The document a request names by hash; ``query``, if also sent, must match it."""
        if query is not None:
            if document_hash(query) != sha256:
                raise RequestRefused(ErrorCode.BAD_REQUEST, "the query text does not match its sha256 hash")
            return query
        document = self.documents.get(sha256)
        if document is None:
            raise RequestRefused(
                ErrorCode.PERSISTED_QUERY_NOT_FOUND,
                f"no trusted document with hash {sha256}: send the document text, or a hash from the registry",
            )
        return document


def requested_hash(document_id: object, extensions: Mapping[str, object] | None) -> str | None:
    """The sha256 a request names its document by, from ``documentId`` or ``extensions.persistedQuery``."""
    hashes: list[str] = []
    if document_id is not None:
        if not isinstance(document_id, str) or not document_id.startswith(DOCUMENT_ID_PREFIX):
            raise RequestRefused(ErrorCode.BAD_REQUEST, 'documentId must be "sha256:" followed by 64 hex digits')
        hashes.append(document_id.removeprefix(DOCUMENT_ID_PREFIX))
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is not None:
        sha256 = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if not isinstance(sha256, str):
            raise RequestRefused(ErrorCode.BAD_REQUEST, "extensions.persistedQuery needs a sha256Hash string")
        hashes.append(sha256)
    if not hashes:
        return None
    normalised = {sha256.lower() for sha256 in hashes}
    if len(normalised) > 1:
        raise RequestRefused(ErrorCode.BAD_REQUEST, "documentId and extensions.persistedQuery name different documents")
    [sha256] = normalised
    if not _HEX.fullmatch(sha256):
        raise RequestRefused(ErrorCode.BAD_REQUEST, "a document hash is 64 hex digits (sha256)")
    return sha256
