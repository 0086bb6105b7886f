from otel_tokens.usage import Usage


def test_from_uncached_input_sums_the_cached_parts_into_the_total():
    usage = Usage.from_uncached_input(
        uncached_input_tokens=100,
        output_tokens=20,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=50,
    )
    assert (usage.input_tokens, usage.uncached_input_tokens) == (1150, 100)


def test_unreported_is_not_zero():
    assert Usage().is_empty
    assert Usage.from_uncached_input(uncached_input_tokens=None, output_tokens=5).input_tokens is None
    assert not Usage(input_tokens=0).is_empty
