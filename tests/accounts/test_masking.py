import logging

from hypothesis import given
from hypothesis import strategies as st

from accounts.masking import MaskPersonalDataFilter, mask_phone, mask_text
from residents.id_numbers import with_check_character


def test_mobile_numbers_are_masked():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("057188888888") == "********8888"


@given(st.integers(min_value=0, max_value=999))
def test_id_numbers_are_masked_in_free_text(serial):
    number = with_check_character(f"33010619440101{serial:03d}")
    text = f"elder {number} moved, phone 13812345678"
    masked = mask_text(text)
    assert number not in masked and "13812345678" not in masked
    assert f"330106********{number[14:]}" in masked


def test_log_records_are_masked_before_they_are_written(caplog):
    number = with_check_character("33010619440101123")
    logger = logging.getLogger("test.masking")
    logger.addFilter(MaskPersonalDataFilter())
    with caplog.at_level(logging.INFO, logger="test.masking"):
        logger.info("looked at %s", number)
    assert number not in caplog.text and "330106********" in caplog.text
