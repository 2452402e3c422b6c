"""Publishing a form encrypted (ODK managed encryption, ADR 0016): the XForm's ``<submission>``
element carries the project's public key as ``base64RsaPublicKey``, and the version gets the
key's suffix, so devices see a new version and a form published encrypted never shares a
version string with its plain self.
"""

from __future__ import annotations

import dataclasses

from lxml import etree

from server.forms.compile import CompiledForm, describe_xform
from server.projects.keys import encrypts_form, is_survivor_form
from server.projects.models import ProjectKey
from server.xmlsafe import child, local_name, parse

XFORMS_NS = "http://www.w3.org/2002/xforms"
PUBLIC_KEY_ATTRIBUTE = "base64RsaPublicKey"


def encrypted_version(version: str, key_id: int) -> str:
    """``2024120101`` -> ``2024120101[encrypted:3]`` (Central marks its re-published versions
    the same way); stable, so publishing the same file again changes nothing."""
    suffix = f"[encrypted:{key_id}]"
    return version if version.endswith(suffix) else f"{version}{suffix}"


def carries_public_key(xml: str) -> bool:
    """Whether an XForm asks devices to encrypt (with our key or a key of its own)."""
    return PUBLIC_KEY_ATTRIBUTE in xml and public_key_of(xml) is not None


def public_key_of(xml: str) -> str | None:
    root = parse(xml.encode("utf-8"), "the XForm")
    for node in root.iter():
        if isinstance(node.tag, str) and local_name(node) == "submission":
            value = node.get(PUBLIC_KEY_ATTRIBUTE)
            if value:
                return value
    return None


def with_public_key(compiled: CompiledForm, public_key_b64: str, key_id: int) -> CompiledForm:
    """The compiled form, published encrypted with the key: ``base64RsaPublicKey`` on the
    model's ``<submission>`` (added when the form has none) and the version suffixed."""
    root = parse(compiled.xml.encode("utf-8"), "the XForm")
    head = child(root, "head")
    model = child(head, "model") if head is not None else None
    instance = child(model, "instance") if model is not None else None
    primary = (
        next((n for n in instance if isinstance(n.tag, str)), None)
        if instance is not None
        else None
    )
    assert model is not None and primary is not None  # describe_xform checked it
    version = encrypted_version(compiled.version, key_id)
    primary.set("version", version)
    submission = next(
        (n for n in model if isinstance(n.tag, str) and local_name(n) == "submission"), None
    )
    if submission is None:
        submission = etree.SubElement(model, f"{{{XFORMS_NS}}}submission")
        submission.set("method", "post")
    submission.set(PUBLIC_KEY_ATTRIBUTE, public_key_b64)
    xml = etree.tostring(root, xml_declaration=True, encoding="utf-8").decode("utf-8")
    return dataclasses.replace(compiled, xml=xml, version=version)


def recompiled(xml: str) -> CompiledForm:
    """A published version's XForm read back as a compiled form, to publish it again."""
    return describe_xform(xml.encode("utf-8"))


def encrypted_if_due(
    key: ProjectKey | None, compiled: CompiledForm
) -> tuple[CompiledForm, int | None, str | None]:
    """The form as it is to be published in a project with ``key`` (None: no key), the id of
    the key it is published with, and a warning when a survivor form goes out in clear.

    A form carrying a public key of its own (a self-supplied key) is published as it is.
    """
    if not encrypts_form(key, compiled.entity_spec):
        warning = None
        if key is None and is_survivor_form(compiled.entity_spec):
            warning = (
                f"{compiled.form_id} is a survivor form published unencrypted: the project has "
                "no encryption key (fieldsync-server project encrypt ID)"
            )
        return compiled, None, warning
    assert key is not None
    present = public_key_of(compiled.xml) if PUBLIC_KEY_ATTRIBUTE in compiled.xml else None
    if present is None:
        return with_public_key(compiled, key.public_key, key.id), key.id, None
    return compiled, (key.id if present == key.public_key else None), None
