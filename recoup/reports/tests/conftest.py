"""Fixtures these tests borrow: an API client per role (the API's tests) and the IBM sample's path (the
aging tests', which skips without ../shared and fails under CI=true)."""

from recoup.api.tests.conftest import client_for  # noqa: F401
from recoup.ledger.tests.test_aging_ibm import ibm_csv  # noqa: F401
