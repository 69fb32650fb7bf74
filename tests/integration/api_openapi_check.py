#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""api_openapi_check.py DOC.json - validate an OpenAPI 3.1 document with
openapi-spec-validator; prints "valid", "invalid: <reason>" (exit 1), or
"skip: <why>" (exit 0) when the validator is not installed."""
import json
import sys

try:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
except ImportError as e:  # the validator is optional
    print(f"skip: {e}")
    sys.exit(0)

with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
try:
    validate(doc)
except OpenAPIValidationError as e:
    print(f"invalid: {e.message} at {list(e.path)}")
    sys.exit(1)
print("valid")
