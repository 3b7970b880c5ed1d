"""Domain presets and custom domains: what each sets, and that it survives a round trip through JSON."""
from __future__ import annotations

import json

import pytest

from autoasr.domains.presets import (
    DECODERS,
    DOMAINS,
    Domain,
    apply_search_overrides,
    get_domain,
)
from autoasr.search.presets import PRESETS, full_space


def test_the_presets_users_pick_from_exist_with_their_settings():
    assert {"digits", "commands", "telephony", "general", "noisy"} <= set(DOMAINS)
    assert get_domain("digits").vocabulary == ("zero", "one", "two", "three", "four", "five", "six", "seven",
                                               "eight", "nine")
    assert get_domain("digits").normalizer == "digits" and get_domain("digits").splice_isolated_words
    assert get_domain("commands").closed_vocabulary is False and get_domain("commands").decoder == "lm"
    assert get_domain("telephony").sample_rate_hint == 8000
    for domain in DOMAINS.values():
        assert domain.decoder in DECODERS
        assert domain.explain().startswith(f"{domain.name}: ") and "\n" not in domain.explain()


def test_unknown_domain_names_the_choices():
    with pytest.raises(ValueError, match="digits.*Domain.custom"):
        get_domain("podcasts")


def test_custom_domain_from_a_word_list_is_closed_and_decodes_with_the_lm():
    domain = Domain.custom(words=["Lights", "ON", "off", "dim"], sentences=["lights on", "Dim the lights!"])
    assert domain.vocabulary == ("dim", "lights", "off", "on", "the")
    assert domain.decoder == "lm" and domain.sentences == ("lights on", "dim the lights")
    text = domain.language_model_text(["lights off", "open the pod bay doors"])
    assert "lights off" in text and "open the pod bay doors" not in text  # out-of-vocabulary transcripts stay out
    assert set(domain.vocabulary) <= {w for line in text for w in line.split()}


def test_custom_domain_from_sentences_keeps_any_word_possible():
    domain = Domain.custom(sentences=["Call 911 now"], base="digits")
    assert domain.vocabulary is None and domain.decoder == "auto"
    assert domain.sentences == ("call nine one one now",)  # the base preset's normaliser applies
    with pytest.raises(ValueError, match="words.*sentences"):
        Domain.custom()


def test_domains_round_trip_through_json():
    for domain in [*DOMAINS.values(), Domain.custom(words=["yes", "no"])]:
        rebuilt = get_domain(json.loads(json.dumps(domain.to_dict())))
        assert rebuilt == domain
    assert get_domain(DOMAINS["noisy"]) is DOMAINS["noisy"]


def test_search_overrides_narrow_only_searched_keys():
    adjusted = apply_search_overrides(full_space(), "commands")
    assert list(adjusted["size"].data) == ["tiny", "small"]
    assert list(apply_search_overrides(full_space(), "noisy")["augment"].data) == [1.5, 1.0, 2.0]
    single = apply_search_overrides(PRESETS["single"].space, "commands")
    assert single == PRESETS["single"].space  # the baseline configuration stays as it is
