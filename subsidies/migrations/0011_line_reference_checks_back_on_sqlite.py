"""The payment lines' reference checks (0006) back on SQLite.

0009 rebuilt the payment-line table without setting the checks aside, and SQLite's rebuild
dropped them. This migration used to install them again; it now does nothing, because
``subsidies.line_checks`` sets the checks aside before every migrate and installs them after
it, whatever a migration rebuilds. Installing them here, in the middle of a migrate, would make
a later migration that rebuilds one of the tables they name fail on SQLite.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("subsidies", "0010_scheme_amount_as_a_share_of_another"),
    ]

    operations = []
