"""Premiums paid to an insurer, per insured elder (docs/policy.md §1).

Insurers (credit code validated, kept by the region that registered them), the covers that say
which insurer insures a scheme's elders where and when, a scheme's ``paid_to``, the insurer of
a payment line (the elder is then the insured) and of a payee account (its corporate account).
On PostgreSQL the covers of one scheme and region never overlap in time (an exclusion
constraint, as for stays; the service checks it on every database).
"""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations, models

import facilities.validators

EXCLUSION = "insurance_cover_periods_never_overlap"
# The accident-insurance schemes of the lists (subsidies/data/schemes.toml), paid to the insurer
# from now on in a database loaded before (no premium is set in any: no line changes).
ACCIDENT_INSURANCE = [
    "xihu_accident_insurance",
    "anji_accident_insurance",
    "ningbo_accident_insurance",
]


def premiums_to_the_insurer(apps, schema_editor):
    Scheme = apps.get_model("subsidies", "Scheme")
    Scheme.objects.filter(code__in=ACCIDENT_INSURANCE).update(paid_to="insurer")


def add_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # Inclusive days: a cover ends on its end date; an open cover runs to infinity.
    schema_editor.execute(
        f"ALTER TABLE subsidies_insurancecover ADD CONSTRAINT {EXCLUSION} EXCLUDE USING gist "
        "(scheme_id WITH =, region_id WITH =, daterange(start_date, end_date, '[]') WITH &&)"
    )


def drop_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE subsidies_insurancecover DROP CONSTRAINT IF EXISTS {EXCLUSION}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("facilities", "0003_delete_staff_member"),
        ("regions", "0006_eligibility_rules"),
        ("residents", "0005_elder_disability_certificate"),
        ("subsidies", "0012_correction_jobs_and_one_difference_line"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalInsuranceCover",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                ("start_date", models.DateField(verbose_name="起保日期")),
                (
                    "end_date",
                    models.DateField(
                        blank=True,
                        help_text="含当日；留空为长期。",
                        null=True,
                        verbose_name="终止日期",
                    ),
                ),
                (
                    "policy_number",
                    models.CharField(blank=True, max_length=64, verbose_name="保单号"),
                ),
                ("note", models.CharField(blank=True, max_length=200, verbose_name="说明")),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
            ],
            options={
                "verbose_name": "historical 承保安排",
                "verbose_name_plural": "historical 承保安排",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="HistoricalInsurer",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200, verbose_name="名称")),
                (
                    "uscc",
                    models.CharField(
                        db_index=True,
                        help_text="GB 32100-2015，18位，含校验码。",
                        max_length=18,
                        validators=[facilities.validators.validate_uscc],
                        verbose_name="统一社会信用代码",
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="启用")),
                (
                    "created_at",
                    models.DateTimeField(blank=True, editable=False, verbose_name="登记时间"),
                ),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1
                    ),
                ),
            ],
            options={
                "verbose_name": "historical 保险公司",
                "verbose_name_plural": "historical 保险公司",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="InsuranceCover",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("start_date", models.DateField(verbose_name="起保日期")),
                (
                    "end_date",
                    models.DateField(
                        blank=True,
                        help_text="含当日；留空为长期。",
                        null=True,
                        verbose_name="终止日期",
                    ),
                ),
                (
                    "policy_number",
                    models.CharField(blank=True, max_length=64, verbose_name="保单号"),
                ),
                ("note", models.CharField(blank=True, max_length=200, verbose_name="说明")),
            ],
            options={
                "verbose_name": "承保安排",
                "verbose_name_plural": "承保安排",
                "ordering": ["region__code", "scheme__code", "-start_date"],
            },
        ),
        migrations.CreateModel(
            name="Insurer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200, verbose_name="名称")),
                (
                    "uscc",
                    models.CharField(
                        help_text="GB 32100-2015，18位，含校验码。",
                        max_length=18,
                        unique=True,
                        validators=[facilities.validators.validate_uscc],
                        verbose_name="统一社会信用代码",
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="启用")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="登记时间")),
            ],
            options={
                "verbose_name": "保险公司",
                "verbose_name_plural": "保险公司",
                "ordering": ["name"],
                "permissions": [
                    ("export_full_insured_list", "可导出含完整身份证号的参保名单（供保险公司投保）")
                ],
            },
        ),
        migrations.RemoveConstraint(
            model_name="payeeaccount",
            name="payee_account_exactly_one_payee",
        ),
        migrations.RemoveConstraint(
            model_name="payeeaccount",
            name="payee_account_channel_holds_an_account",
        ),
        migrations.AddField(
            model_name="historicalscheme",
            name="paid_to",
            field=models.CharField(
                blank=True,
                choices=[("", "发放对象本人"), ("insurer", "承保保险公司（按参保老年人）")],
                default="",
                help_text="留空：付给发放对象本人；承保保险公司：每位参保老年人一条明细，付给该地该期承保的保险公司（见“承保安排”），参保名单随之导出。",
                max_length=16,
                verbose_name="付款对象",
            ),
        ),
        migrations.AddField(
            model_name="scheme",
            name="paid_to",
            field=models.CharField(
                blank=True,
                choices=[("", "发放对象本人"), ("insurer", "承保保险公司（按参保老年人）")],
                default="",
                help_text="留空：付给发放对象本人；承保保险公司：每位参保老年人一条明细，付给该地该期承保的保险公司（见“承保安排”），参保名单随之导出。",
                max_length=16,
                verbose_name="付款对象",
            ),
        ),
        migrations.AlterField(
            model_name="historicalpayeeaccount",
            name="channel",
            field=models.CharField(
                choices=[
                    ("bank_card", "银行卡"),
                    ("social_security_card", "社会保障卡金融账户"),
                    ("care_card", "爱心卡（养老服务电子津贴）"),
                    ("corporate_account", "单位银行结算账户（对公账户）"),
                ],
                max_length=32,
                verbose_name="账户类型",
            ),
        ),
        migrations.AlterField(
            model_name="payeeaccount",
            name="channel",
            field=models.CharField(
                choices=[
                    ("bank_card", "银行卡"),
                    ("social_security_card", "社会保障卡金融账户"),
                    ("care_card", "爱心卡（养老服务电子津贴）"),
                    ("corporate_account", "单位银行结算账户（对公账户）"),
                ],
                max_length=32,
                verbose_name="账户类型",
            ),
        ),
        migrations.AddField(
            model_name="historicalinsurancecover",
            name="history_user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalinsurancecover",
            name="region",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="regions.region",
                verbose_name="承保区划",
            ),
        ),
        migrations.AddField(
            model_name="historicalinsurancecover",
            name="scheme",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                limit_choices_to={"paid_to": "insurer"},
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="subsidies.scheme",
                verbose_name="津贴项目",
            ),
        ),
        migrations.AddField(
            model_name="historicalinsurer",
            name="history_user",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalinsurer",
            name="region",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="登记该保险公司的部门所在区划，由该地民政或财政部门维护。",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="regions.region",
                verbose_name="登记区划",
            ),
        ),
        migrations.AddField(
            model_name="insurancecover",
            name="region",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="insurance_covers",
                to="regions.region",
                verbose_name="承保区划",
            ),
        ),
        migrations.AddField(
            model_name="insurancecover",
            name="scheme",
            field=models.ForeignKey(
                limit_choices_to={"paid_to": "insurer"},
                on_delete=django.db.models.deletion.PROTECT,
                related_name="insurance_covers",
                to="subsidies.scheme",
                verbose_name="津贴项目",
            ),
        ),
        migrations.AddField(
            model_name="insurer",
            name="region",
            field=models.ForeignKey(
                help_text="登记该保险公司的部门所在区划，由该地民政或财政部门维护。",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="insurers",
                to="regions.region",
                verbose_name="登记区划",
            ),
        ),
        migrations.AddField(
            model_name="insurancecover",
            name="insurer",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="covers",
                to="subsidies.insurer",
                verbose_name="保险公司",
            ),
        ),
        migrations.AddField(
            model_name="historicalinsurancecover",
            name="insurer",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="subsidies.insurer",
                verbose_name="保险公司",
            ),
        ),
        migrations.AddField(
            model_name="historicalpayeeaccount",
            name="insurer",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="subsidies.insurer",
                verbose_name="保险公司",
            ),
        ),
        migrations.AddField(
            model_name="payeeaccount",
            name="insurer",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payee_account",
                to="subsidies.insurer",
                verbose_name="保险公司",
            ),
        ),
        migrations.AddField(
            model_name="paymentline",
            name="insurer",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payment_lines",
                to="subsidies.insurer",
                verbose_name="承保保险公司",
            ),
        ),
        migrations.AddIndex(
            model_name="paymentline",
            index=models.Index(
                condition=models.Q(("insurer__isnull", False)),
                fields=["insurer", "period"],
                name="payment_line_insurer_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="payeeaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("caregiver__isnull", True),
                        ("elder__isnull", False),
                        ("facility__isnull", True),
                        ("insurer__isnull", True),
                    ),
                    models.Q(
                        ("caregiver__isnull", False),
                        ("elder__isnull", True),
                        ("facility__isnull", True),
                        ("insurer__isnull", True),
                    ),
                    models.Q(
                        ("caregiver__isnull", True),
                        ("elder__isnull", True),
                        ("facility__isnull", False),
                        ("insurer__isnull", True),
                    ),
                    models.Q(
                        ("caregiver__isnull", True),
                        ("elder__isnull", True),
                        ("facility__isnull", True),
                        ("insurer__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="payee_account_exactly_one_payee",
            ),
        ),
        migrations.AddConstraint(
            model_name="payeeaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("channel__in", ["bank_card", "social_security_card"]),
                        ("insurer__isnull", True),
                    ),
                    models.Q(("channel", "corporate_account"), ("insurer__isnull", False)),
                    _connector="OR",
                ),
                name="payee_account_channel_holds_an_account",
            ),
        ),
        migrations.AddConstraint(
            model_name="paymentline",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("insurer__isnull", True), ("elder__isnull", False), _connector="OR"
                ),
                name="payment_line_insurer_insures_an_elder",
            ),
        ),
        migrations.AddConstraint(
            model_name="insurancecover",
            constraint=models.UniqueConstraint(
                fields=("scheme", "region", "start_date"), name="insurance_cover_one_per_start"
            ),
        ),
        migrations.AddConstraint(
            model_name="insurancecover",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("end_date__isnull", True),
                    ("end_date__gte", models.F("start_date")),
                    _connector="OR",
                ),
                name="insurance_cover_dates_ordered",
            ),
        ),
        # CreateExtension does nothing on other backends.
        BtreeGistExtension(),
        migrations.RunPython(add_exclusion, drop_exclusion),
        migrations.RunPython(premiums_to_the_insurer, migrations.RunPython.noop),
    ]
