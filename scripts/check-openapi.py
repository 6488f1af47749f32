#!/usr/bin/env python3
"""Check recorded HTTP exchanges against an OpenAPI 3.1 document.

usage: check-openapi.py OPENAPI.yaml RECORDS.jsonl [--require-all]

RECORDS.jsonl holds one exchange per line:
  {"method": "GET", "path": "/v1/files/GAD%2F1?x=y", "status": 200,
   "contentType": "application/json; charset=utf-8", "body": <parsed JSON, or null>}

Each exchange must match a documented path, method, status and media type; JSON bodies are validated
against the media type's schema (JSON Schema 2020-12, $refs resolved in the whole document). A record
without a Content-Type passes the media-type step only when the response documents no body, or is
marked `x-empty-body: <reason>`.

--require-all also fails for every documented operation no exchange reached, unless the operation
says `x-not-exercised: <reason>`.

Needs only PyYAML and jsonschema (4.10 or later; Debian's python3-yaml and python3-jsonschema).
Exit status: 0 all good, 1 failures, 2 usage or unreadable input.
"""

import json
import re
import sys
import warnings
from urllib.parse import quote

import jsonschema
import yaml

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOC_URI = "urn:signservice:openapi"


def pointer_escape(key):
    return str(key).replace("~", "~0").replace("/", "~1")


def pointer_get(document, pointer):
    """The value at a JSON pointer ("/a/b") in document; KeyError when absent."""
    node = document
    if pointer in ("", "/"):
        return node
    for raw in pointer.lstrip("/").split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise KeyError(pointer)
    return node


def deref(document, node, pointer):
    """Follows local $refs (Reference Objects); returns (object, its pointer)."""
    seen = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#") or ref in seen:
            raise KeyError(ref)
        seen.add(ref)
        pointer = ref[1:]
        node = pointer_get(document, pointer)
    return node, pointer


class SchemaChecker:
    """Validates instances against schemas that live somewhere inside the OpenAPI document."""

    def __init__(self, document):
        self.document = document
        self.registry = None
        self.resolver = None
        try:
            # jsonschema 4.18 and later: a registry holding the document under a name of its own.
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT202012
            resource = Resource(contents=document, specification=DRAFT202012)
            registry = Registry().with_resource(DOC_URI, resource)
            jsonschema.Draft202012Validator({}, registry=registry)
            self.registry, self.base = registry, DOC_URI
        except (ImportError, TypeError):
            # jsonschema 4.10 (Debian): RefResolver, with the whole document as the base ("").
            self.resolver = jsonschema.RefResolver.from_schema(document)
            self.base = ""

    def errors(self, pointer, instance):
        # A one-line schema pointing into the document keeps the document as the base of every "#/..." $ref.
        wrapper = {"$ref": self.base + "#" + quote(pointer, safe="/~")}
        if self.registry is not None:
            validator = jsonschema.Draft202012Validator(wrapper, registry=self.registry)
        else:
            validator = jsonschema.Draft202012Validator(wrapper, resolver=self.resolver)
        return sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])


def load_document(path):
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    problems = []
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
        problems.append("the document is not OpenAPI 3.1 (openapi: 3.1.x)")
        return document, problems
    # Every schema the document holds must itself be a valid 2020-12 schema.
    for name, schema in (document.get("components", {}).get("schemas") or {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            problems.append("components/schemas/%s is not a valid schema: %s" % (name, error.message))
    for pointer, schema in inline_schemas(document):
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            problems.append("%s is not a valid schema: %s" % (pointer, error.message))
    # Every local $ref must lead somewhere.
    for pointer, ref in all_refs(document, ""):
        if ref.startswith("#"):
            try:
                pointer_get(document, ref[1:])
            except (KeyError, IndexError, ValueError):
                problems.append("%s: $ref %s leads nowhere" % (pointer or "/", ref))
    return document, problems


def inline_schemas(document):
    """Media type and parameter schemas written in the paths or components (not under components/schemas)."""
    found = []

    def media(pointer, content):
        for media_type, entry in (content or {}).items():
            if isinstance(entry, dict) and "schema" in entry:
                found.append(("%s/%s/schema" % (pointer, pointer_escape(media_type)), entry["schema"]))

    def response(pointer, value):
        if isinstance(value, dict):
            media(pointer + "/content", value.get("content"))
            for header, spec in (value.get("headers") or {}).items():
                if isinstance(spec, dict) and "schema" in spec:
                    found.append(("%s/headers/%s/schema" % (pointer, pointer_escape(header)), spec["schema"]))

    def parameters(pointer, values):
        for index, parameter in enumerate(values or []):
            if isinstance(parameter, dict) and "schema" in parameter:
                found.append(("%s/%d/schema" % (pointer, index), parameter["schema"]))

    for template, item in (document.get("paths") or {}).items():
        base = "/paths/" + pointer_escape(template)
        parameters(base + "/parameters", item.get("parameters"))
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            here = "%s/%s" % (base, method)
            parameters(here + "/parameters", operation.get("parameters"))
            body = operation.get("requestBody")
            if isinstance(body, dict):
                media(here + "/requestBody/content", body.get("content"))
            for status, value in (operation.get("responses") or {}).items():
                response("%s/responses/%s" % (here, status), value)
    components = document.get("components") or {}
    for name, value in (components.get("responses") or {}).items():
        response("/components/responses/" + pointer_escape(name), value)
    for name, value in (components.get("parameters") or {}).items():
        if isinstance(value, dict) and "schema" in value:
            found.append(("/components/parameters/%s/schema" % pointer_escape(name), value["schema"]))
    return found


def all_refs(node, pointer):
    if isinstance(node, dict):
        for key, value in node.items():
            here = pointer + "/" + pointer_escape(key)
            if key == "$ref" and isinstance(value, str):
                yield pointer, value
            else:
                yield from all_refs(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from all_refs(value, "%s/%d" % (pointer, index))


def compile_templates(document):
    """(template, per-segment regexes, rank) for each path; rank puts literal segments before parameters."""
    compiled = []
    for template in (document.get("paths") or {}):
        segments = template.split("/")
        patterns, rank = [], []
        for segment in segments:
            parts = re.split(r"(\{[^{}/]+\})", segment)
            regex = "".join("[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part)
                            for part in parts if part)
            patterns.append(re.compile("^" + regex + "$"))
            rank.append(1 if "{" in segment else 0)
        compiled.append((template, patterns, rank))
    return compiled


def match_template(compiled, path):
    segments = path.split("/")
    candidates = [(rank, template) for template, patterns, rank in compiled
                  if len(patterns) == len(segments) and all(p.match(s) for p, s in zip(patterns, segments))]
    if not candidates:
        return None
    candidates.sort()
    return candidates[0][1]


def find_response(responses, status):
    text = str(status)
    keys = {str(key).upper(): key for key in responses}
    for wanted in (text, text[:1] + "XX", "DEFAULT"):
        if wanted in keys:
            return keys[wanted]
    return None


def find_media(content, content_type):
    base = content_type.split(";")[0].strip().lower()
    keys = {str(key).split(";")[0].strip().lower(): key for key in content}
    for wanted in (base, base.split("/")[0] + "/*", "*/*"):
        if wanted in keys:
            return keys[wanted]
    return None


def shorten(text, limit=300):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def is_json(media_type):
    base = media_type.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def check(document_path, records_path, require_all):
    try:
        document, problems = load_document(document_path)
    except (OSError, yaml.YAMLError) as error:
        print("cannot read %s: %s" % (document_path, error))
        return 2
    failures = ["%s: %s" % (document_path, problem) for problem in problems]
    if not isinstance(document, dict):
        for line in failures:
            print(line)
        return 1

    paths = document.get("paths") or {}
    operations = [(template, method) for template, item in paths.items() for method in METHODS
                  if isinstance(item, dict) and isinstance(item.get(method), dict)]
    compiled = compile_templates(document)
    schemas = SchemaChecker(document)
    exercised = set()
    checked = 0

    try:
        handle = open(records_path, encoding="utf-8")
    except OSError as error:
        print("cannot read %s: %s" % (records_path, error))
        return 2
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = "line %d" % number
            try:
                record = json.loads(line)
                method = str(record["method"]).upper()
                full_path = str(record["path"])
                status = int(record["status"])
            except (ValueError, KeyError, TypeError) as error:
                failures.append("%s: not a record (%s)" % (where, error))
                continue
            checked += 1
            path = full_path.split("?", 1)[0].split("#", 1)[0]
            label = "%s: %s %s %d" % (where, method, full_path, status)

            template = match_template(compiled, path)
            if template is None:
                failures.append("%s: path not documented" % label)
                continue
            operation = paths[template].get(method.lower())
            if not isinstance(operation, dict):
                # An operation marked x-any-path (the CORS preflight the guard answers everywhere) stands for
                # that method on every path.
                anywhere = [(other, item[method.lower()]) for other, item in paths.items()
                            if isinstance(item.get(method.lower()), dict) and item[method.lower()].get("x-any-path")]
                if not anywhere:
                    failures.append("%s: method not documented for %s" % (label, template))
                    continue
                template, operation = anywhere[0]
            exercised.add((template, method.lower()))

            responses = operation.get("responses") or {}
            key = find_response(responses, status)
            if key is None:
                failures.append("%s: status not documented" % label)
                continue
            base_pointer = "/paths/%s/%s/responses/%s" % (pointer_escape(template), method.lower(), pointer_escape(key))
            try:
                response, response_pointer = deref(document, responses[key], base_pointer)
            except (KeyError, IndexError, ValueError) as error:
                failures.append("%s: response $ref does not resolve (%s)" % (label, error))
                continue

            content = response.get("content") or {}
            content_type = record.get("contentType") or ""
            body = record.get("body")
            if not content_type.strip():
                if content and "x-empty-body" not in response:
                    failures.append("%s: no Content-Type, but the response documents %s" % (label, ", ".join(content)))
                elif body is not None:
                    failures.append("%s: a body without a Content-Type" % label)
                continue
            if not content:
                failures.append("%s: got %s, but the response documents no body" % (label, content_type))
                continue
            media_key = find_media(content, content_type)
            if media_key is None:
                failures.append("%s: media type %s not documented (documented: %s)"
                                % (label, content_type.split(";")[0].strip(), ", ".join(content)))
                continue
            media = content[media_key]
            if not (is_json(str(media_key)) and isinstance(media, dict) and "schema" in media):
                continue
            schema_pointer = "%s/content/%s/schema" % (response_pointer, pointer_escape(media_key))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    errors = schemas.errors(schema_pointer, body)
            except Exception as error:  # an unresolvable $ref: RefResolutionError or referencing's Unresolvable
                text = (str(error).splitlines() or [type(error).__name__])[0].split(" within {")[0]
                failures.append("%s: the schema cannot be used: %s" % (label, shorten(text)))
                continue
            for error in errors[:10]:
                at = "/".join(str(part) for part in error.absolute_path)
                failures.append("%s: %s: %s" % (label, "body/" + at if at else "body", shorten(error.message)))
            if len(errors) > 10:
                failures.append("%s: ... and %d more schema errors" % (label, len(errors) - 10))

    if require_all:
        for template, method in operations:
            if (template, method) in exercised:
                continue
            if "x-not-exercised" in paths[template][method]:
                continue
            failures.append("not exercised: %s %s" % (method.upper(), template))

    for line in failures:
        print(line)
    summary = "%d exchanges checked against %d operations" % (checked, len(operations))
    if failures:
        print("%s: %d failure%s" % (summary, len(failures), "" if len(failures) == 1 else "s"))
        return 1
    print(summary + ": ok")
    return 0


def main(arguments):
    require_all = "--require-all" in arguments
    rest = [argument for argument in arguments if argument != "--require-all"]
    if len(rest) != 2 or any(argument.startswith("-") for argument in rest):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    return check(rest[0], rest[1], require_all)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
