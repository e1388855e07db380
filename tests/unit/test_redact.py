"""Redaction of secrets in argument names, mapping keys and attributes at any depth."""

from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import hmac
import pickle
import types
from typing import Any

import pytest

from snapy import DEFAULT_PATTERNS, ArgumentFilter, Redacted
from snapy._redact import Redactor
from snapy._signature import canonical

KEY = b"k" * 16


def digest(value: Any, key: bytes = KEY) -> str:
    return hmac.new(key, canonical(value), hashlib.blake2b).hexdigest()[:32]


def secret(value: Any, key: bytes = KEY) -> Redacted:
    return Redacted(digest(value, key))


class Client:
    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password


@dataclasses.dataclass(frozen=True)
class Credentials:
    user: str
    api_key: str


@dataclasses.dataclass(slots=True)
class SlottedCredentials:
    user: str
    refresh_token: str


Login = collections.namedtuple("Login", "user password")
Pair = collections.namedtuple("Pair", "left right")


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "user_password",
        "PASSWORD",
        "apiKey",
        "APIKey",
        "stripe_api_key",
        "Authorization",
        "access_token",
        "refresh_token",
        "client_secret",
        "x-auth-token",
        "X-Auth-Token",
        # The last word of a pattern matches as a prefix (documented): these are hidden too.
        "tokenizer",
        "keyboard",
        "primary_key",
        "author",
    ],
)
def test_default_patterns_hide(name: str) -> None:
    assert ArgumentFilter().is_sensitive(name) is True
    assert ArgumentFilter().should_capture(name, "value") is False


@pytest.mark.parametrize(
    "name", ["monkey", "turkey_count", "amount", "username", "currency", "pass", "tok", ""]
)
def test_default_patterns_keep(name: str) -> None:
    assert ArgumentFilter().is_sensitive(name) is False
    assert ArgumentFilter().should_capture(name, "value") is True


def test_default_patterns_are_the_documented_ones() -> None:
    assert DEFAULT_PATTERNS == (
        "password",
        "token",
        "secret",
        "key",
        "auth",
        "api_key",
        "access_token",
        "refresh_token",
    )
    assert repr(ArgumentFilter(["a_b"])) == "ArgumentFilter(patterns=['a_b'])"


def test_multi_word_pattern_needs_its_words_in_order() -> None:
    only = ArgumentFilter(patterns=["api_key"])
    assert only.is_sensitive("stripe_api_key") is True
    assert only.is_sensitive("apiKeyId") is True
    assert only.is_sensitive("key_api") is False
    assert only.is_sensitive("api_version_key") is False


def test_secret_arguments_are_replaced_by_a_keyed_digest() -> None:
    out = Redactor(ArgumentFilter(), KEY).arguments({"password": "hunter2", "user": "ann"})
    assert out == {"password": secret("hunter2"), "user": "ann"}
    assert type(out["password"]) is Redacted


def test_secrets_are_replaced_at_any_depth_without_touching_the_caller() -> None:
    payload = ({"items": [{"token": "t-1", "sku": "A"}, {"sku": "B"}]}, {"untouched": [1]})
    original = copy.deepcopy(payload)
    out = Redactor(ArgumentFilter(), KEY).arguments({"payload": payload})
    assert out == {
        "payload": (
            {"items": [{"token": secret("t-1"), "sku": "A"}, {"sku": "B"}]},
            {"untouched": [1]},
        )
    }
    assert type(out["payload"]) is tuple
    assert payload == original
    # Only the path to a secret is copied; the rest is shared.
    assert out["payload"][1] is payload[1]
    assert out["payload"][0]["items"][1] is payload[0]["items"][1]


def test_value_without_secrets_is_returned_as_is() -> None:
    value = {"a": [1, (2, {"b": 3})]}
    assert Redactor(ArgumentFilter(), KEY).value(value) is value


def test_secret_attributes_of_a_plain_object_are_replaced_in_a_copy() -> None:
    client = Client("ann", "hunter2")
    out = Redactor(ArgumentFilter(), KEY).arguments({"client": client})["client"]
    assert type(out) is Client
    assert out is not client
    assert vars(out) == {"user": "ann", "password": secret("hunter2")}
    assert vars(client) == {"user": "ann", "password": "hunter2"}


def test_secret_fields_of_a_frozen_dataclass_are_replaced_in_a_copy() -> None:
    creds = Credentials("ann", "sk_live_1")
    out = Redactor(ArgumentFilter(), KEY).value([creds])[0]
    assert out == Credentials("ann", secret("sk_live_1"))  # type: ignore[arg-type]
    assert creds.api_key == "sk_live_1"


def test_secret_fields_of_a_slotted_dataclass_are_replaced_in_a_copy() -> None:
    creds = SlottedCredentials("ann", "r-1")
    out = Redactor(ArgumentFilter(), KEY).value({"creds": creds})["creds"]
    assert out == SlottedCredentials("ann", secret("r-1"))  # type: ignore[arg-type]
    assert creds.refresh_token == "r-1"


def test_secret_fields_of_a_namedtuple_are_replaced() -> None:
    login = Login("ann", "hunter2")
    out = Redactor(ArgumentFilter(), KEY).value({"login": login})["login"]
    assert type(out) is Login
    assert out == Login("ann", secret("hunter2"))
    pair = Pair("a", {"b": 1})
    assert Redactor(ArgumentFilter(), KEY).value(pair) is pair
    nested = Redactor(ArgumentFilter(), KEY).value(Pair("a", {"token": "t"}))
    assert nested == Pair("a", {"token": secret("t")})


def test_mapping_types_other_than_dict_are_kept_when_they_can_be_copied() -> None:
    ordered = collections.OrderedDict(token="t", b=1)
    out = Redactor(ArgumentFilter(), KEY).value(ordered)
    assert type(out) is collections.OrderedDict
    assert list(out.items()) == [("token", secret("t")), ("b", 1)]
    assert ordered["token"] == "t"


def test_mapping_that_cannot_be_copied_becomes_a_dict() -> None:
    proxy = types.MappingProxyType({"token": "t", "b": 1})
    assert Redactor(ArgumentFilter(), KEY).value(proxy) == {"token": secret("t"), "b": 1}


def test_a_cyclic_value_holding_a_secret_is_hidden_whole() -> None:
    loop: dict[str, Any] = {"secret": "s"}
    loop["self"] = loop
    out = Redactor(ArgumentFilter(), KEY).value(loop)
    # A copy with the secret replaced would still reach the original through the cycle.
    assert type(out) is Redacted
    assert loop["secret"] == "s"
    plain: list[Any] = [1]
    plain.append(plain)
    assert Redactor(ArgumentFilter(), KEY).value(plain) is plain


def test_equal_secrets_give_equal_digests_only_under_the_same_key() -> None:
    first = Redactor(ArgumentFilter(), KEY)
    second = Redactor(ArgumentFilter(), KEY)
    other = Redactor(ArgumentFilter(), b"another-key-1234")
    assert first.arguments({"token": {"a": 1, "b": 2}}) == second.arguments(
        {"token": {"b": 2, "a": 1}}
    )
    assert first.arguments({"token": "x"}) != other.arguments({"token": "x"})
    assert first.arguments({"token": "x"}) != first.arguments({"token": "y"})
    assert first.arguments({"token": 1})["token"].digest == digest(1)


def test_redacted_compares_hashes_pickles_and_hides_its_value() -> None:
    value = Redacted("abc")
    assert value == Redacted("abc")
    assert value != Redacted("abd")
    assert value != "abc"
    assert hash(value) == hash(Redacted("abc"))
    assert repr(value) == "<redacted>"
    assert pickle.loads(pickle.dumps(value)) == value


def test_subclass_can_decide_with_should_capture() -> None:
    class HideCards(ArgumentFilter):
        def should_capture(self, arg_name: str, arg_value: Any) -> bool:
            return not (isinstance(arg_value, str) and arg_value.startswith("4111"))

    out = Redactor(HideCards(), KEY).arguments(
        {"number": "4111111111111111", "password": "kept-by-should_capture", "n": {"token": 1}}
    )
    assert out == {
        "number": secret("4111111111111111"),
        "password": "kept-by-should_capture",
        # Mapping keys inside values still use is_sensitive.
        "n": {"token": secret(1)},
    }


def test_patterns_replace_the_defaults() -> None:
    cards = ArgumentFilter(patterns=["card_number"])
    assert cards.patterns == ("card_number",)
    out = Redactor(cards, KEY).arguments({"cardNumber": "4111", "password": "p"})
    assert out == {"cardNumber": secret("4111"), "password": "p"}


def test_extended_adds_to_the_patterns() -> None:
    class Custom(ArgumentFilter):
        pass

    wider = Custom().extended(["ssn"])
    assert type(wider) is Custom
    assert wider.patterns == (*DEFAULT_PATTERNS, "ssn")
    assert wider.is_sensitive("user_ssn") is True
    assert wider.is_sensitive("password") is True
    assert Custom().is_sensitive("user_ssn") is False


@pytest.mark.parametrize("pattern", ["--", "", 5])
def test_pattern_without_words_is_refused(pattern: Any) -> None:
    with pytest.raises(ValueError) as info:
        ArgumentFilter(patterns=["token", pattern])
    assert str(info.value) == f"redaction pattern {pattern!r} has no letters or digits"
