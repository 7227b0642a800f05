"""The `recoup` console script: everything manage.py does, plus Recoup's own commands."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    # `recoup import …` and `recoup token …` are Recoup commands; everything else is plain Django.
    argv[0] = "recoup"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
