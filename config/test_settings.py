"""Settings for the test suite: the real settings, with test-only shortcuts that never reach production."""

import os

os.environ.setdefault("RECOUP_INSECURE_DEFAULTS", "1")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
