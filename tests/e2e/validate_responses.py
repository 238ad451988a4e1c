#!/usr/bin/env python3
"""Validates recorded HTTP responses against the OpenAPI document (http/openapi.json).

    validate_responses.py DOCUMENT RESPONSES.jsonl
    validate_responses.py DOCUMENT            (only checks the document itself)

Each line of RESPONSES.jsonl is one response:

    {"method": "GET", "path": "/v1/tasks/{id}", "target": "/v1/tasks/1?x=y",
     "status": 200, "content_type": "application/json", "headers": [["Name", "value"], ...],
     "body": "..."}

"path" is the document's path template; when it is absent, the template is found from
"target" (the request target, query allowed). "headers" is optional. A path the document
does not list must answer as #/components/responses/UnknownPath, a method a listed path does
not allow as #/components/responses/MethodNotAllowed (with Allow naming the listed methods).

Checked per response: the status is documented for the operation, the content type is one
the response lists (with the same parameters), a JSON body parses, the body matches the
schema (JSON Schema draft 2020-12, $ref resolved within the document), and every documented
header is present when required and matches its schema. Before that the document itself is
checked: every $ref resolves and every schema is a valid 2020-12 schema.

Exit status: 0 all valid; 1 something did not match (one line each on stdout); 2 usage or
unreadable input; 3 the jsonschema module is missing (Debian: python3-jsonschema).
Works with jsonschema 4.10 (Debian 12) and later releases.
"""

import json
import sys
from urllib.parse import quote

try:
    from jsonschema import Draft202012Validator
except ImportError:
    print("validate_responses.py: the jsonschema module is missing "
          "(apt-get install python3-jsonschema)", file=sys.stderr)
    sys.exit(3)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def escape(token):
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer_of(tokens):
    return "".join("/" + escape(t) for t in tokens)


def lookup(doc, pointer):
    """The node at a JSON pointer ("/a/b"), or raises KeyError."""
    node = doc
    if pointer == "":
        return node
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise KeyError(pointer)
    return node


def follow(doc, node, pointer):
    """Follows $ref chains (document-local only): the node and its pointer."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#") or ref in seen:
            raise KeyError(ref)
        seen.add(ref)
        pointer = ref[1:]
        node = lookup(doc, pointer)
    return node, pointer


class Checker:
    def __init__(self, doc):
        self.doc = doc
        # The whole document is the root schema: each check adds a $ref to the schema's
        # location, so that every $ref inside resolves against the document, with no
        # resolver API (which changed between jsonschema releases). The document's other
        # keys (openapi, paths, components...) are not schema keywords and are ignored.
        self.root = dict(doc)

    def errors(self, instance, pointer):
        """Messages for `instance` against the schema at `pointer`; [] when it matches."""
        schema = dict(self.root)
        schema["$ref"] = "#" + quote(pointer, safe="/~")
        validator = Draft202012Validator(schema)
        out = []
        for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
            text = f"at {where(err)}: {err.message}"
            closest = closest_cause(err)
            if closest is not err:
                text += f" (closest: at {where(closest)}: {closest.message})"
            out.append(text)
        return out

    # -- the document -------------------------------------------------------------------

    def check_document(self):
        problems = []

        def walk(node, tokens):
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    try:
                        follow(self.doc, node, pointer_of(tokens))
                    except (KeyError, IndexError, ValueError):
                        problems.append(f"{pointer_of(tokens)}: $ref {ref} does not resolve")
                for key, value in node.items():
                    walk(value, tokens + [key])
                # A parameter's, header's or media type's schema (those under
                # components/schemas are checked below, once each).
                in_schemas = tokens[:2] == ["components", "schemas"]
                if not in_schemas and isinstance(node.get("schema"), dict):
                    problems.extend(self.meta_errors(node["schema"], tokens + ["schema"]))
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    walk(value, tokens + [i])

        walk(self.doc, [])
        for name, schema in self.doc.get("components", {}).get("schemas", {}).items():
            problems.extend(self.meta_errors(schema, ["components", "schemas", name]))
        if not str(self.doc.get("openapi", "")).startswith("3.1."):
            problems.append("/openapi: not 3.1.x")
        return problems

    def meta_errors(self, schema, tokens):
        v = Draft202012Validator(Draft202012Validator.META_SCHEMA)
        return [f"{pointer_of(tokens)}: not a 2020-12 schema: {e.message}"
                for e in v.iter_errors(schema)]

    # -- one response ---------------------------------------------------------------------

    def template_of(self, target):
        path = target.split("?", 1)[0]
        segments = path.split("/")
        best, best_literal = None, -1
        for template in self.doc.get("paths", {}):
            parts = template.split("/")
            if len(parts) != len(segments):
                continue
            literal = 0
            for want, got in zip(parts, segments):
                if want.startswith("{") and want.endswith("}"):
                    if not got:
                        break
                elif want == got:
                    literal += 1
                else:
                    break
            else:
                if literal > best_literal:
                    best, best_literal = template, literal
        return best

    def check(self, line):
        method = str(line.get("method", "")).upper()
        status = line.get("status")
        target = line.get("target", "")
        template = line.get("path") or self.template_of(target)
        headers = line.get("headers") or []
        if isinstance(headers, dict):
            headers = list(headers.items())
        body = line.get("body", "")
        content_type = line.get("content_type")
        if content_type is None:
            content_type = header(headers, "Content-Type")

        paths = self.doc.get("paths", {})
        if template is None or template not in paths:
            if status != 404:
                return [f"the path is not in the document, and the status is {status}, not 404"]
            pointer = "/components/responses/UnknownPath"
        else:
            item, item_ptr = follow(self.doc, paths[template], pointer_of(["paths", template]))
            allowed = [m.upper() for m in METHODS if m in item]
            if method.lower() not in item:
                if status != 405:
                    return [f"{method} is not documented for {template}, and the status is "
                            f"{status}, not 405"]
                problems = self.check_response("/components/responses/MethodNotAllowed",
                                               headers, content_type, body)
                allow = header(headers, "Allow")
                got = sorted(m.strip() for m in (allow or "").split(",") if m.strip())
                if got != sorted(allowed):
                    problems.append(f"Allow is {allow!r}; the document lists {', '.join(allowed)}")
                return problems
            responses = item[method.lower()].get("responses", {})
            key = str(status)
            if key not in responses:
                key = f"{str(status)[0]}XX"
            if key not in responses:
                key = "default"
            if key not in responses:
                return [f"status {status} is not documented for {method} {template} "
                        f"(documented: {', '.join(responses)})"]
            pointer = item_ptr + pointer_of([method.lower(), "responses", key])
        return self.check_response(pointer, headers, content_type, body)

    def check_response(self, pointer, headers, content_type, body):
        response, pointer = follow(self.doc, lookup(self.doc, pointer), pointer)
        problems = []
        for name, spec in response.get("headers", {}).items():
            spec, spec_ptr = follow(self.doc, spec, pointer + "/headers/" + escape(name))
            value = header(headers, name)
            if value is None:
                if spec.get("required"):
                    problems.append(f"header {name} is missing")
                continue
            if "schema" in spec:
                schema, schema_ptr = follow(self.doc, spec["schema"], spec_ptr + "/schema")
                for e in self.errors(coerce(value, schema), schema_ptr):
                    problems.append(f"header {name}: {value!r}: {e}")
        content = response.get("content")
        if not content:
            if body:
                problems.append("a body where the document has none")
            return problems
        media = None
        essence, params = media_type(content_type or "")
        for key in content:
            k_essence, k_params = media_type(key)
            if k_essence == essence and all(params.get(n) == v for n, v in k_params.items()):
                media = key
                break
        if media is None:
            problems.append(f"Content-Type {content_type!r} is not one of {', '.join(content)}")
            return problems
        media_ptr = pointer + "/content/" + escape(media)
        spec = content[media]
        if "schema" not in spec:
            return problems
        if essence == "application/json" or essence.endswith("+json"):
            try:
                instance = json.loads(body)
            except ValueError as e:
                problems.append(f"the body is not JSON ({e}): {body[:200]!r}")
                return problems
        else:
            instance = body
        problems.extend(self.errors(instance, media_ptr + "/schema"))
        return problems


def where(err):
    return "".join("/" + str(p) for p in err.absolute_path) or "/"


def closest_cause(err):
    """For anyOf/oneOf, the branch error that got furthest into the instance (a wrong type
    says least), so that `latest_run: not valid under any schema` names the missing key."""
    while err.context:
        err = max(err.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
    return err


def header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def media_type(text):
    """("type/subtype", {param: value}) in lower case."""
    parts = [p.strip() for p in text.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params


def coerce(value, schema):
    """A header's text as the schema's type (OpenAPI's simple style), when it reads as one."""
    kind = schema.get("type")
    if kind == "integer" and value.strip().lstrip("-").isdigit():
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"validate_responses.py: cannot read the document {argv[1]}: {e}", file=sys.stderr)
        return 2
    checker = Checker(doc)
    failures = [f"document: {p}" for p in checker.check_document()]
    count = 0
    if len(argv) == 3:
        try:
            with open(argv[2], encoding="utf-8") as f:
                lines = [l for l in f.read().splitlines() if l.strip()]
        except OSError as e:
            print(f"validate_responses.py: cannot read {argv[2]}: {e}", file=sys.stderr)
            return 2
        for number, text in enumerate(lines, 1):
            try:
                line = json.loads(text)
            except ValueError as e:
                failures.append(f"line {number}: not JSON: {e}")
                continue
            count += 1
            what = (f"line {number}: {line.get('method')} {line.get('target') or line.get('path')}"
                    f" -> {line.get('status')}")
            try:
                problems = checker.check(line)
            except (KeyError, IndexError, ValueError, TypeError) as e:
                problems = [f"cannot check: {type(e).__name__} {e}"]
            failures.extend(f"{what}: {p}" for p in problems)
    for f in failures:
        print(f)
    if failures:
        print(f"validate_responses.py: {len(failures)} problem(s) in {count} response(s)")
        return 1
    print(f"validate_responses.py: the document and {count} response(s) are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
