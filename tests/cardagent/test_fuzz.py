"""Property-based fuzzing: no 500 and no crash for any request.

1. schemathesis generates valid and invalid requests from the agent's own OpenAPI document
   and runs its checks (server errors, status codes and response bodies against the schema,
   auth really enforced, ...), with an upgraded fixture card in the reader so every request
   goes through the real PC/SC + PKCS#11 read.
2. Hypothesis throws arbitrary methods, paths, headers and bodies at the raw app.
"""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection

from tests.cardagent.conftest import ALLOWED_ORIGIN, BASE_URL, TEST_TOKEN, assert_no_personnummer

HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}", "Host": "127.0.0.1:8765"}
FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)

import pytest  # noqa: E402

pytestmark = pytest.mark.stack  # the fuzzed app reads the card through pcscd + SoftHSM2


@pytest.fixture()
def fuzz_schema(app, card_slot):
    card_slot.insert("upgraded")
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, headers={"Host": "127.0.0.1:8765"}
    )
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return schema


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@FUZZ_SETTINGS
def test_openapi_fuzz(case) -> None:
    # Every call carries the token (HEADERS), so a negative case that "removes" the
    # Authorization header is sent with it after all; schemathesis would then flag the
    # accepted request. Auth itself is checked by test_security.py and the fuzz below.
    response = case.call_and_validate(headers=HEADERS, excluded_checks=[negative_data_rejection])
    assert response.status_code < 500
    assert_no_personnummer(response.text)


_methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
# printable ASCII only: the HTTP client itself refuses control characters in URLs
_segment = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
    max_size=12,
)
_paths = st.one_of(
    st.sampled_from(
        ["/v1/card/state", "/v1/card/tokens", "/v1/readers", "/v1/agent", "/openapi.json", "/"]
    ),
    st.lists(_segment, max_size=4).map(lambda parts: "/v1/" + "/".join(parts)),
)
_header_value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_headers = st.fixed_dictionaries(
    {},
    optional={
        "Authorization": st.one_of(
            st.just(f"Bearer {TEST_TOKEN}"), _header_value.map(lambda v: "Bearer " + v)
        ),
        "Origin": st.one_of(st.just(ALLOWED_ORIGIN), _header_value),
        "Content-Type": st.sampled_from(["application/json", "text/plain", "multipart/form-data"]),
        "Access-Control-Request-Method": _header_value,
        "Access-Control-Request-Private-Network": st.sampled_from(["true", "false", "yes"]),
        "Host": st.sampled_from(["127.0.0.1:8765", "localhost", "evil.example", "[::1]", ""]),
    },
)
_query = st.dictionaries(
    st.sampled_from(["expiry_warning_days", "x", "reader"]),
    st.one_of(_header_value, st.integers().map(str)),
    max_size=2,
)


@pytest.fixture(scope="module")
def raw_client(app):
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as c:
        yield c


@given(method=_methods, path=_paths, headers=_headers, query=_query, body=st.binary(max_size=64))
@FUZZ_SETTINGS
def test_raw_requests_never_500(raw_client, method, path, headers, query, body) -> None:
    r = raw_client.request(method, path, headers=headers, params=query, content=body)
    assert r.status_code < 500, (method, path, headers, r.text)
    if method != "HEAD" and r.status_code != 204:
        r.json()  # always JSON


_page_paths = st.one_of(
    st.sampled_from(["/pin/", "/orders/", "/pin/0123456789abcdef", "/orders/0123456789abcdef"]),
    st.tuples(st.sampled_from(["/pin/", "/orders/"]), st.lists(_segment, max_size=3)).map(
        lambda t: t[0] + "/".join(t[1])
    ),
)
_page_headers = st.fixed_dictionaries(
    {},
    optional={
        "Origin": st.one_of(st.just("http://127.0.0.1:8765"), st.just("null"), _header_value),
        "Sec-Fetch-Site": st.sampled_from(["same-origin", "same-site", "cross-site", "none", ""]),
        "Content-Type": st.sampled_from(
            ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
        ),
        "Cookie": _header_value.map(lambda v: "cardagent_page=" + v.replace(";", "")),
        "Host": st.sampled_from(["127.0.0.1:8765", "localhost:8765", "evil.example"]),
    },
)


@given(
    method=_methods,
    path=_page_paths,
    headers=_page_headers,
    query=st.dictionaries(st.sampled_from(["t", "x"]), _header_value, max_size=2),
    body=st.binary(max_size=64),
)
@FUZZ_SETTINGS
def test_agent_pages_answer_html_never_500(raw_client, method, path, headers, query, body) -> None:
    """The agent's own pages: whatever arrives, a Swedish HTML page (never JSON, never 500)."""
    r = raw_client.request(method, path, headers=headers, params=query, content=body)
    assert r.status_code < 500, (method, path, headers, r.text)
    if method != "HEAD":
        assert r.headers["content-type"].startswith("text/html"), (method, path, r.text)
        assert '<html lang="sv">' in r.text
