"""Compile the project's XSDs once and validate messages against them (R-COM-1).

The schema of a message is chosen by its root element (namespace and local name), never by
prefix: customs receipts come with `ceb:` prefixes or with a default namespace.

Threads: libxml2's compiled schema is read-only during validation and lxml makes a fresh
validation context per call, but an lxml `XMLSchema` object keeps one error log that every call
clears and fills, so two threads validating through the same object would mix their errors.
Each thread therefore gets its own compiled copy (a `threading.local`; compiling one takes
about a millisecond), built from XSD bytes read once. Measured against one shared object
behind a lock, the copies were as fast on one thread and faster on several, because lxml
releases the GIL while libxml2 parses and validates and the lock would serialise that.
"""

from __future__ import annotations

import functools
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lxml import etree

from gateway.codes import DSIG_NS
from gateway.errors import InvalidInput, MisuseError, Violation

RULE = "R-COM-1"
XSD_DIR = Path(__file__).with_name("xsd")
_XS = "{http://www.w3.org/2001/XMLSchema}"


class _Catalogue:
    """Message roots found in the XSD folders: every global element is a message root (a
    message type), except ds:Signature, which only ever sits inside a message. So a new
    message is a new XSD (or a new global element in one), never a line in a table here;
    a business system that ships its own XSDs adds its folder (`add_directory`)."""

    def __init__(self) -> None:
        self.dirs: list[Path] = [XSD_DIR.resolve()]
        #: root local name -> (namespace, XSD file path that declares it)
        self.roots: dict[str, tuple[str, Path]] = {}
        #: namespace -> prefix used in reported paths and messages
        self.prefixes: dict[str, str] = {DSIG_NS: "ds"}
        self._lock = threading.Lock()
        self._scan(self.dirs[0])

    def add_directory(self, path: Path) -> None:
        path = path.resolve()
        with self._lock:
            if path not in self.dirs:
                self._scan(path)
                self.dirs.append(path)

    def _scan(self, folder: Path) -> None:
        found: dict[str, tuple[str, Path]] = {}
        for xsd in sorted(folder.glob("*.xsd")):
            root = etree.fromstring(xsd.read_bytes(), _xsd_parser())
            namespace = root.get("targetNamespace", "")
            if namespace == DSIG_NS:
                continue
            for prefix, uri in root.nsmap.items():
                if prefix and uri == namespace:
                    self.prefixes.setdefault(namespace, prefix)
            for element in root.iterchildren(f"{_XS}element"):
                name = element.get("name", "")
                if name in self.roots or name in found:
                    raise MisuseError(f"message root {name} is declared twice ({xsd})")
                found[name] = (namespace, xsd)
        self.roots.update(found)


_catalogue: _Catalogue | None = None
_catalogue_lock = threading.Lock()


def _known() -> _Catalogue:
    global _catalogue
    if _catalogue is None:
        with _catalogue_lock:
            if _catalogue is None:
                _catalogue = _Catalogue()
    return _catalogue


def add_directory(path: Path) -> None:
    """Take the XSDs of another folder (a business system's own): their global elements
    become message roots; their includes resolve in that folder, then in this package's."""
    _known().add_directory(path)


def known_message_types() -> frozenset[str]:
    """Root local names this package has a schema for."""
    return frozenset(_known().roots)


def message_type(root: etree._Element) -> str:
    """Local name of the root element (`CEB303Message`, `DxpMsg`…), whatever its prefix."""
    return etree.QName(root).localname


# --- loading ---------------------------------------------------------------------------------


class _PackageResolver(etree.Resolver):
    """Serve xs:include/xs:import from the XSD folders and nothing else.

    The XSDs only ever include one another; anything else (a URL, a file elsewhere) means the
    files were tampered with, so it is refused instead of fetched. A system's own XSD may
    include the package's common ones (ceb_common.xsd, xmldsig.xsd) by their bare name.
    """

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        path = _allowed_path(system_url)
        return self.resolve_string(_xsd_bytes(path), context, base_url=str(path))


def _allowed_path(url: str) -> Path:
    parts = urlsplit(url)
    path = Path(unquote(parts.path)).resolve()
    folders = _known().dirs
    if parts.scheme not in ("", "file") or path.parent not in folders:
        raise InvalidInput(f"schema resource outside the XSD folders refused: {url}")
    if not path.exists() and (XSD_DIR / path.name).exists():
        return XSD_DIR.resolve() / path.name
    return path


def _package_name(url: str) -> str:
    """The file name of an allowed schema resource (InvalidInput, a ValueError, for any other)."""
    return _allowed_path(url).name


@functools.cache
def _xsd_bytes(path: Path) -> bytes:
    return path.read_bytes()


def _xsd_parser() -> etree.XMLParser:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    parser.resolvers.add(_PackageResolver())
    return parser


#: libxml2 sets up its XSD built-in types on the first compile, unguarded: threads compiling
#: at once (a burst of first requests to a fresh `serve`) crashed the process. One at a time.
_COMPILE_LOCK = threading.Lock()


def _compile(xsd: Path | str) -> etree.XMLSchema:
    xsd = xsd if isinstance(xsd, Path) else XSD_DIR / xsd
    tree = etree.fromstring(_xsd_bytes(xsd), _xsd_parser(), base_url=str(xsd))
    with _COMPILE_LOCK:
        return etree.XMLSchema(tree.getroottree())


class _ThreadSchemas(threading.local):
    """This thread's compiled schemas, by XSD file name; each compiled on first use."""

    def __init__(self) -> None:
        self.by_file: dict[Path, etree.XMLSchema] = {}


_local = _ThreadSchemas()


def _schema(xsd: Path) -> etree.XMLSchema:
    schemas = _local.by_file
    schema = schemas.get(xsd)
    if schema is None:
        schema = schemas[xsd] = _compile(xsd)
    return schema


# --- validating ------------------------------------------------------------------------------


def validate(
    doc: etree._ElementTree | etree._Element,
    message_type: str | None = None,
    max_errors: int = 100,
) -> list[Violation]:
    """Validate against the XSD of the root's message type; [] when valid.

    `message_type`, when given, is the type the caller expects: a document whose root is of
    another type is refused without schema validation. At most `max_errors` violations (never
    fewer than one for an invalid document) are returned, in document order.
    """
    root = doc.getroot() if isinstance(doc, etree._ElementTree) else doc
    refused = _check_root(root, message_type)
    if refused is not None:
        return [refused]
    schema = _schema(_known().roots[etree.QName(root).localname][1])
    if schema.validate(doc):
        return []
    entries = list(schema.error_log)[: max(max_errors, 1)]
    prefixes = _declared_prefixes(root)
    return [_violation(root, prefixes, entry) for entry in entries]


def _check_root(root: etree._Element, expected: str | None) -> Violation | None:
    qname = etree.QName(root)
    known = _known().roots.get(qname.localname)
    if known is None or known[0] != qname.namespace:
        return _root_violation(root, _unknown(qname.text))
    if expected is not None and expected not in _known().roots:
        return _root_violation(root, _unknown(expected))
    if expected is not None and expected != qname.localname:
        return _root_violation(root, f"expected {expected}, got {qname.localname}")
    return None


def _unknown(name: str) -> str:
    return f"unknown message type '{name}'; known: {', '.join(sorted(_known().roots))}"


def _root_violation(root: etree._Element, message: str) -> Violation:
    return Violation(rule=RULE, field="/" + _step(root), message=message, line=root.sourceline)


# --- turning libxml2's errors into violations ---------------------------------------------------

_QUALIFIED = re.compile(r"\{([^}]*)\}")
_SUBJECT = re.compile(r"^Element '[^']*'(?:, attribute '([^']*)')?: ")
_MAX_VALUE = 100


def _violation(root: etree._Element, prefixes: dict[str, str], entry: etree._LogEntry) -> Violation:
    message = _QUALIFIED.sub(_prefix_for, entry.message).strip().rstrip(".")
    element = _element_at(root, prefixes, entry.path)
    field = _path(element) if element is not None else entry.path or "(document)"
    value = _value(element) if element is not None and _about_text(entry) else None
    subject = _SUBJECT.match(message)
    if subject:  # "Element 'ceb:x', attribute 'a': reason" -> field .../@a, message "reason"
        message = message[subject.end() :]
        if subject.group(1):
            field, value = f"{field}/@{subject.group(1)}", None
    return Violation(rule=RULE, field=field, message=message, line=entry.line or None, value=value)


def _prefix_for(match: re.Match[str]) -> str:
    prefix = _known().prefixes.get(match.group(1))
    return f"{prefix}:" if prefix else match.group(0)


def _element_at(
    root: etree._Element, prefixes: dict[str, str], path: str | None
) -> etree._Element | None:
    """Find the element libxml2 reported, to describe it with stable prefixes.

    libxml2 writes the sender's prefixes, or `*` steps for default-namespace elements, from the
    validated element down; the path is replayed relative to that element, so that it also
    works when a subtree, not a whole document, was validated.
    """
    if not path or not path.startswith("/"):
        return None
    below = path.find("/", 1)
    try:
        found = root.xpath("." + path[below:] if below > 0 else ".", namespaces=prefixes)
    except etree.XPathError:
        return None
    # Comments and processing instructions are _Elements too, but have no name to show.
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0] if isinstance(found[0].tag, str) else None
    return None


def _declared_prefixes(root: etree._Element) -> dict[str, str]:
    prefixes: dict[str, str] = {}
    for element in root.iter():
        for prefix, uri in element.nsmap.items():
            if prefix:
                prefixes.setdefault(prefix, uri)
    return prefixes


def _path(element: etree._Element) -> str:
    steps = [_step(e) for e in reversed(list(element.iterancestors()))] + [_step(element)]
    return "/" + "/".join(steps)


def _step(element: etree._Element) -> str:
    """`ceb:Order[2]`: index only when siblings share the name, as libxml2 writes paths."""
    qname = etree.QName(element)
    prefix = _known().prefixes.get(qname.namespace or "")
    name = f"{prefix}:{qname.localname}" if prefix else qname.text
    parent = element.getparent()
    if parent is None:
        return name
    same = [s for s in parent.iterchildren(element.tag)]
    return f"{name}[{same.index(element) + 1}]" if len(same) > 1 else name


def _about_text(entry: etree._LogEntry) -> bool:
    """Datatype and facet errors (SCHEMAV_CVC_*) concern the element's text; their messages do
    not always quote it (maxLength does not), so the violation carries it."""
    return entry.type_name.startswith("SCHEMAV_CVC_") and "child" not in entry.message


def _value(element: etree._Element) -> str | None:
    if len(element) or element.text is None:
        return None
    text = element.text
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "…"
