"""A form description for each document type, read off its marshmallow schema.

The browser (``static/docform.js``) draws the form from this description and sends what was
typed to the JSON API as the type's input, so the form cannot drift from the schema: a field
added to a schema appears on the form (labelled by the type's ``FormText``, declared in its
module in ``service/doctypes/``), and every check stays in one place, the schema, whose field
errors come back as paths like ``body.0.level``.

Node kinds: ``text`` (one input), ``choice`` (a select), ``multi`` (checkboxes for a list of
fixed choices), ``object`` (a nested schema), ``list`` (a repeatable item), ``block`` (a
paragraph or a heading of the notice body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from schemas.fields import EmailAddress, PhoneNumber, PlainText
from service import labels
from service.doctypes import DOCTYPES, DocType, FormText

Node = dict[str, Any]


def form_spec(doctype: DocType) -> dict[str, Any]:
    """The whole form of ``doctype``: its fields grouped into the sections of its form."""
    nodes = {node["name"]: node for node in _fields(doctype.schema, doctype.form)}
    sections: list[dict[str, Any]] = []
    placed: set[str] = set()
    for title, names in doctype.form.sections:
        chosen = [nodes[n] for n in names if n in nodes]
        placed.update(n["name"] for n in chosen)
        sections.append({"title": title, "fields": chosen, "folded": title.endswith("（可选）")})
    rest = [node for name, node in nodes.items() if name not in placed]
    if rest:
        sections.append({"title": "其他", "fields": rest, "folded": False})
    return {"type": doctype.code, "label": doctype.label, "sections": sections}


def missing_labels(schema: type[Schema], form: FormText | None = None) -> list[str]:
    """Fields of ``schema`` (and the schemas nested in it) that have no Chinese label in
    ``form`` (by default the form of the registered type whose schema it is)."""
    if form is None:
        form = next((dt.form for dt in DOCTYPES.values() if dt.schema is schema), None)
    return _unlabelled(schema, form.labels if form is not None else {})


def _unlabelled(schema: type[Schema], known: Mapping[str, Mapping[str, Any]]) -> list[str]:
    out = []
    for name, field in schema._declared_fields.items():
        if name not in known.get(schema.__name__, {}):
            out.append(f"{schema.__name__}.{name}")
        nested = _nested_schema(field.inner if isinstance(field, fields.List) else field)
        if nested is not None:
            out.extend(_unlabelled(nested, known))
    return out


def _fields(schema: type[Schema], form: FormText) -> list[Node]:
    names = form.labels.get(schema.__name__, {})
    out = []
    for name, field in schema._declared_fields.items():
        label, hint = names.get(name, (name, ""))
        node = _node(field, name, form)
        node.update(name=name, label=label, hint=hint, required=bool(field.required))
        out.append(node)
    return out


def _nested_schema(field: fields.Field) -> type[Schema] | None:
    if not isinstance(field, fields.Nested):
        return None
    nested = field.nested
    return nested if isinstance(nested, type) else type(nested)  # type: ignore[return-value]


def _node(field: fields.Field, name: str, form: FormText) -> Node:
    nested = _nested_schema(field)
    if nested is not None:
        if nested.__name__ == "BlockSchema":
            return {"kind": "block", "levels": _choices(nested._declared_fields["level"], form)}
        return {"kind": "object", "fields": _fields(nested, form)}
    if isinstance(field, fields.List):
        inner = field.inner
        choices = _choices(inner, form)
        length = _length(field)
        if choices:
            return {"kind": "multi", "choices": choices, "min": length[0]}
        return {
            "kind": "list",
            "item": _node(inner, name, form),
            "item_add": form.items.get(name, labels.ITEM_DEFAULT)[0],
            "item_counter": form.items.get(name, labels.ITEM_DEFAULT)[1],
            "min": length[0],
            "max": length[1],
        }
    choices = _choices(field, form)
    if choices:
        return {"kind": "choice", "choices": choices}
    return {"kind": "text", **_input(field)}


def _input(field: fields.Field) -> dict[str, Any]:
    """The HTML input that suits ``field``, and how its value is sent (``value``)."""
    if isinstance(field, fields.DateTime):
        return {"input": "datetime-local", "value": "string"}
    if isinstance(field, fields.Date):
        return {"input": "date", "value": "string"}
    if isinstance(field, fields.Integer):
        lo, hi = _range(field)
        return {"input": "number", "value": "integer", "min": lo, "max": hi, "step": 1}
    if isinstance(field, fields.Decimal):
        return {"input": "number", "value": "decimal", "min": 0, "step": "0.01"}
    if isinstance(field, PhoneNumber):
        return {"input": "tel", "value": "string", "max_length": 40}
    if isinstance(field, EmailAddress):
        return {"input": "email", "value": "string"}
    if isinstance(field, PlainText):
        multiline = field.multiline and (field.max_length or 0) > 300
        return {
            "input": "textarea" if multiline else "text",
            "value": "string",
            "max_length": field.max_length,
            "wide": multiline or (field.max_length or 0) >= 150,  # titles, places, matters
        }
    return {"input": "text", "value": "string", "max_length": 40, "mono": True}


def _choices(field: fields.Field, form: FormText) -> list[list[Any]]:
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            return [[c, form.choices.get(str(c), _level(c))] for c in v.choices]
    return []


def _level(value: Any) -> str:
    if isinstance(value, int):
        return {
            1: "一级标题 一、",
            2: "二级标题 （一）",
            3: "三级标题 1.",
            4: "四级标题 （1）",
        }.get(value, str(value))
    return str(value)


def _length(field: fields.Field) -> tuple[int, int | None]:
    for v in field.validators:
        if isinstance(v, validate.Length):
            return v.min or 0, v.max
    return 0, None


def _range(field: fields.Field) -> tuple[Any, Any]:
    for v in field.validators:
        if isinstance(v, validate.Range):
            return v.min, v.max
    return None, None
