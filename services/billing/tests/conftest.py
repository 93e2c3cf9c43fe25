"""Fixtures shared by the billing tests: the official e-invoice validators.

The artefacts (UBL 2.1 schemas, the compiled EN 16931 rules, the Peppol BIS 3 Schematron) are
looked up in the folder named by ``BMW_EINVOICE_ARTEFACTS``, by default
``<repo root>/../shared/einvoice``. When they are missing, the tests that use these fixtures are
skipped with a reason naming where they were looked for.

Use: a test asks for ``validate_einvoice`` (``Callable[[bytes], list[str]]``) and asserts that
``validate_einvoice(xml) == []``: each problem is one XSD error or one fatal assertion, named by
its rule id, ``"BR-CO-15: [BR-CO-15]-Invoice total amount with VAT ..."``. It checks

* the UBL 2.1 schema (lxml),
* the EN 16931 rules: the official compiled XSLT, run with Saxon-HE (saxonche),
* the Peppol BIS Billing 3.0 rules, including the Dutch NL-CIUS rules ``NL-R-*``: these ship as
  Schematron source only, so ``_compile_schematron`` turns them into XSLT here. It implements
  exactly the Schematron subset that file uses (global and rule ``let``, ``xsl:function``,
  patterns of rules whose first matching rule fires, plain-text ``assert``) and refuses any
  other construct, so a newer release that needs more fails loudly instead of checking less.

``validate_en16931`` checks only the first two; the official EN 16931 examples are not Peppol
documents (their CustomizationID is plain EN 16931), so they are checked with it.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

_REPO_ROOT = Path(__file__).resolve().parents[3]
_SVRL = "http://purl.oclc.org/dsdl/svrl"
_SCH = "http://purl.oclc.org/dsdl/schematron"
_XSL = "http://www.w3.org/1999/XSL/Transform"
_ROOTS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice": "UBL-Invoice-2.1.xsd",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote": "UBL-CreditNote-2.1.xsd",
}

Validate = Callable[[bytes], list[str]]


@pytest.fixture(scope="session")
def einvoice_artefacts() -> Path:
    """The folder of official e-invoice validation artefacts; skips the test when it is missing."""
    configured = os.environ.get("BMW_EINVOICE_ARTEFACTS")
    folder = Path(configured) if configured else _REPO_ROOT.parent / "shared" / "einvoice"
    folder = folder.resolve()
    needed = [
        folder / "ubl-2.1" / "xsd" / "maindoc" / "UBL-Invoice-2.1.xsd",
        folder / "ubl-2.1" / "xsd" / "maindoc" / "UBL-CreditNote-2.1.xsd",
        folder / "en16931" / "EN16931-UBL-validation.xslt",
        folder / "peppol-bis-3" / "PEPPOL-EN16931-UBL.sch",
    ]
    missing = [str(path.relative_to(folder)) for path in needed if not path.is_file()]
    if missing:
        source = "from BMW_EINVOICE_ARTEFACTS" if configured else "default: <repo>/../shared/einvoice"
        pytest.skip(f"e-invoice artefacts not found in {folder} ({source}); missing {', '.join(missing)}")
    return folder


def _compile_schematron(schema_file: Path) -> str:
    """XSLT 3.0 text for the Schematron subset the Peppol rules use (see the module docstring)."""
    schema = etree.parse(str(schema_file), etree.XMLParser(remove_comments=True)).getroot()
    if schema.tag != f"{{{_SCH}}}schema" or schema.get("queryBinding") != "xslt2":
        raise RuntimeError(f"{schema_file}: not an ISO Schematron schema with the xslt2 query binding")
    namespaces = {str(ns.get("prefix")): str(ns.get("uri")) for ns in schema.iter(f"{{{_SCH}}}ns")}
    stylesheet = etree.Element(
        f"{{{_XSL}}}stylesheet", {"version": "3.0"}, nsmap={"xsl": _XSL, "svrl": _SVRL, **namespaces}
    )

    def unsupported(element: etree._Element) -> RuntimeError:
        return RuntimeError(f"{schema_file}:{element.sourceline}: unsupported Schematron construct {element.tag}")

    def variable(parent: etree._Element, let: etree._Element) -> None:
        etree.SubElement(parent, f"{{{_XSL}}}variable", {"name": str(let.get("name")), "select": str(let.get("value"))})

    patterns: list[etree._Element] = []
    for child in schema:
        if child.tag in (f"{{{_SCH}}}title", f"{{{_SCH}}}ns"):
            continue
        if child.tag == f"{{{_SCH}}}let":
            variable(stylesheet, child)
        elif child.tag == f"{{{_XSL}}}function":
            stylesheet.append(copy.deepcopy(child))
        elif child.tag == f"{{{_SCH}}}pattern":
            patterns.append(child)
        else:
            raise unsupported(child)

    root_template = etree.SubElement(stylesheet, f"{{{_XSL}}}template", {"match": "/"})
    output = etree.SubElement(root_template, f"{{{_SVRL}}}schematron-output")
    for number, pattern in enumerate(patterns):
        mode = f"pattern-{number}"
        etree.SubElement(output, f"{{{_XSL}}}apply-templates", {"select": "/", "mode": mode})
        rules = [child for child in pattern if child.tag == f"{{{_SCH}}}rule"]
        for child in pattern:
            if child.tag == f"{{{_SCH}}}let":
                variable(stylesheet, child)  # pattern variables are global, as in the ISO skeleton
            elif child.tag != f"{{{_SCH}}}rule":
                raise unsupported(child)
        for position, rule in enumerate(rules):
            if set(rule.attrib) != {"context"}:
                raise unsupported(rule)
            # Within a pattern only the first rule that matches a node fires: earlier rules rank higher.
            template = etree.SubElement(
                stylesheet,
                f"{{{_XSL}}}template",
                {"match": str(rule.get("context")), "mode": mode, "priority": str(1000 - position)},
            )
            for item in rule:
                if item.tag == f"{{{_SCH}}}let":
                    variable(template, item)
                elif item.tag == f"{{{_SCH}}}assert" and len(item) == 0 and set(item.attrib) == {"id", "test", "flag"}:
                    choose = etree.SubElement(template, f"{{{_XSL}}}choose")
                    etree.SubElement(choose, f"{{{_XSL}}}when", {"test": str(item.get("test"))})
                    failed = etree.SubElement(
                        etree.SubElement(choose, f"{{{_XSL}}}otherwise"),
                        f"{{{_SVRL}}}failed-assert",
                        {"id": str(item.get("id")), "flag": str(item.get("flag")), "location": "{path()}"},
                    )
                    etree.SubElement(failed, f"{{{_SVRL}}}text").text = item.text
                else:
                    raise unsupported(item)
            etree.SubElement(template, f"{{{_XSL}}}apply-templates", {"select": "@*|node()", "mode": mode})
        etree.SubElement(stylesheet, f"{{{_XSL}}}template", {"match": "text()", "mode": mode, "priority": "-1"})
        walk = etree.SubElement(
            stylesheet, f"{{{_XSL}}}template", {"match": "@*|node()", "mode": mode, "priority": "-2"}
        )
        etree.SubElement(walk, f"{{{_XSL}}}apply-templates", {"select": "@*|node()", "mode": mode})
    return etree.tostring(stylesheet, encoding="unicode")


class _Validator:
    """XSD (lxml) plus business rules as XSLT producing SVRL, run with Saxon-HE."""

    def __init__(self, folder: Path) -> None:
        # Imported late: only validation tests need it. saxonche ships no type information.
        from saxonche import PySaxonProcessor  # type: ignore[import-not-found,unused-ignore]

        maindoc = folder / "ubl-2.1" / "xsd" / "maindoc"
        self._schemas = {root: etree.XMLSchema(etree.parse(str(maindoc / xsd))) for root, xsd in _ROOTS.items()}
        self._processor = PySaxonProcessor(license=False)
        compiler = self._processor.new_xslt30_processor()
        self._en16931 = compiler.compile_stylesheet(
            stylesheet_file=str(folder / "en16931" / "EN16931-UBL-validation.xslt")
        )
        peppol = _compile_schematron(folder / "peppol-bis-3" / "PEPPOL-EN16931-UBL.sch")
        self._peppol = compiler.compile_stylesheet(stylesheet_text=peppol)

    def _fatal(self, rules: Any, xml: bytes) -> list[str]:
        node = self._processor.parse_xml(xml_text=xml.decode("utf-8"))
        rules.set_global_context_item(xdm_item=node)  # the rules' global variables read the document
        svrl = rules.transform_to_string(xdm_node=node)
        if not svrl:
            return ["the rules produced no report"]
        problems = []
        for failed in etree.fromstring(svrl.encode("utf-8")).iter(f"{{{_SVRL}}}failed-assert"):
            if failed.get("flag") == "fatal":
                text = " ".join(etree.tostring(failed, method="text", encoding="unicode").split())
                problems.append(f"{failed.get('id')}: {text} (at {failed.get('location')})")
        return problems

    def problems(self, xml: bytes, *, peppol: bool = True) -> list[str]:
        """Every XSD error and every fatal assertion of one document; empty when it is valid."""
        document = etree.fromstring(xml)
        schema = self._schemas.get(document.tag)
        if schema is None:
            return [f"root element {document.tag} is neither a UBL Invoice nor a UBL CreditNote"]
        valid = schema.validate(document)
        problems = [] if valid else [f"XSD: {line}" for line in str(schema.error_log).splitlines()]
        problems += self._fatal(self._en16931, xml)
        if peppol:
            problems += self._fatal(self._peppol, xml)
        return problems


@pytest.fixture(scope="session")
def _einvoice_validator(einvoice_artefacts: Path) -> _Validator:
    return _Validator(einvoice_artefacts)


@pytest.fixture(scope="session")
def validate_einvoice(_einvoice_validator: _Validator) -> Validate:
    """Problems of a UBL document against XSD, EN 16931 and Peppol BIS 3 with NL-CIUS (compiled once)."""
    return _einvoice_validator.problems


@pytest.fixture(scope="session")
def validate_en16931(_einvoice_validator: _Validator) -> Validate:
    """Problems of a UBL document against XSD and EN 16931 only (compiled once)."""
    return functools.partial(_einvoice_validator.problems, peppol=False)
