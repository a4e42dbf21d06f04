# The world of the masking tests (an elder of each kind, a facility, a caregiver, an allowance
# run) serves the tests of revealing and of the audit trail too.
from tests.accounts.test_masking_cannot_be_undone import world  # noqa: F401
