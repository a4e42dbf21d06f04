from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regions.eligibility import RULES_FILE, adopt_rules, load_rules

# Who the audit trail names for the rows this command writes.
COMMAND = "load_eligibility"


class Command(BaseCommand):
    help = (
        "Insert the rules of who a policy is for that the database lacks (regions/data/"
        "eligibility.toml: visit lists, waiting-list precedence, staffing classes). Never "
        "overwrites: the database is the master after the first load, and every rule where the "
        "file differs is listed with who changed it and when. Taking the file's rule is "
        "deliberate: --adopt SUBJECT:CODE --region CODE."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(RULES_FILE), help="rules TOML file")
        parser.add_argument(
            "--adopt", metavar="SUBJECT:CODE", help="take the file's versions of this rule"
        )
        parser.add_argument("--region", metavar="CODE", help="with --adopt: the region's code")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"--file {path}: no such file")
        if bool(options["adopt"]) != bool(options["region"]):
            raise CommandError("--adopt SUBJECT:CODE and --region CODE go together")
        try:
            if options["adopt"]:
                subject, _, code = options["adopt"].partition(":")
                if not code:
                    raise CommandError(
                        "--adopt takes SUBJECT:CODE, e.g. visit_list:special_difficulty"
                    )
                report = adopt_rules(
                    subject=subject,
                    code=code,
                    region_code=options["region"],
                    path=path,
                    command=COMMAND,
                )
                self.stdout.write(
                    f"adopted from the file: {report.adopted} row(s) of {options['adopt']} "
                    f"for {options['region']}, unchanged {report.unchanged}"
                )
                return
            report = load_rules(path, command=COMMAND)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        for difference in report.differences:
            self.stdout.write(difference.describe())
        self.stdout.write(
            f"eligibility rules: created {report.created}, unchanged {report.unchanged}, "
            f"differing {len(report.differences)} (the database's rules kept)"
        )
