"""Finance in the admin: batch review with totals, approval behind a confirmation page, the
audited CSV/XLSX export, the bank return upload (preview, then reconcile; the file held
privately in between, used once, expiring, size-limited), run progress; each scoped and limited
to the finance role."""

import csv
import datetime
import io
import zipfile
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from accounts.choices import UploadPurpose
from accounts.models import AuditEntry, HeldUpload
from accounts.services import assign_role
from regions.models import Region
from subsidies.choices import BatchState, LineKind, LineStatus, RunStatus
from subsidies.models import AllowanceRun, BankReturnImport, BatchExport, PaymentLine
from subsidies.selectors import batch_grand_total
from tests.subsidies.test_allowance_amounts import run

MAY = datetime.date(2024, 5, 1)


def _staff(username: str, role: str, region_code: str) -> User:
    """A staff login with every permission of the subsidies app, like the demo's groups."""
    group, _ = Group.objects.get_or_create(name=f"subsidies-{role}")
    group.permissions.set(Permission.objects.filter(content_type__app_label="subsidies"))
    user = User.objects.create_user(username, password="pw-123456!", is_staff=True)
    user.groups.add(group)
    assign_role(user=user, role=role, region=Region.objects.get(code=region_code))
    return user


@pytest.fixture
def may_batch(make_elder):
    """Xihu's May batch: four lines, 1,010.00 yuan; one elder registered in 翠苑街道."""
    make_elder(datetime.date(1939, 1, 1), "330106004", pension="resident")
    make_elder(datetime.date(1929, 1, 1))
    make_elder(datetime.date(1920, 1, 1))
    return run("330106", MAY).batch


@pytest.fixture
def finance(may_batch, client):
    client.force_login(_staff("cashier", "finance", "330106"))
    return client


def _url(name: str, batch) -> str:
    return reverse(f"admin:subsidies_paymentbatch_{name}", args=[batch.pk])


def _approve(client, batch):
    response = client.post(_url("approve", batch), {"confirm": "yes"})
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.state == BatchState.APPROVED


def _bank_csv(rows) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["reference", "id_number", "status", "bank_reference", "message"])
    writer.writerows(rows)
    upload = io.BytesIO(text.getvalue().encode("utf-8"))
    upload.name = "return.csv"
    return upload


def test_review_shows_totals_per_scheme_and_in_all_for_the_filtered_lines(finance, may_batch):
    url = reverse("admin:subsidies_paymentline_changelist")
    page = finance.get(url, {"batch__id__exact": may_batch.pk})
    assert page.status_code == 200
    count, amount = batch_grand_total(may_batch)
    assert (count, amount) == (4, Decimal("1010.00"))
    assert page.context["line_total_count"] == 4
    assert page.context["line_total_amount"] == Decimal("1010.00")
    by_scheme = {t["scheme"]: t for t in page.context["line_totals"]}
    assert by_scheme["high_age_80_89"]["amount"] == Decimal("60.00")
    assert sum(t["amount"] for t in by_scheme.values()) == Decimal("1010.00")
    # Filtered by scheme: the totals follow the filter.
    scheme_id = PaymentLine.objects.get(scheme__code="high_age_80_89").scheme_id
    page = finance.get(url, {"batch__id__exact": may_batch.pk, "scheme__id__exact": scheme_id})
    assert page.context["line_total_count"] == 1
    assert page.context["line_total_amount"] == Decimal("60.00")
    # Filtered by street: only the elder registered in 翠苑街道.
    page = finance.get(url, {"batch__id__exact": may_batch.pk, "street": "330106004"})
    lines = PaymentLine.objects.filter(elder__hukou_region__code="330106004")
    assert page.context["line_total_count"] == lines.count() >= 1
    assert "翠苑街道" in page.content.decode()


def test_cancelled_lines_are_listed_but_not_counted_in_the_totals(finance, may_batch):
    line = may_batch.lines.order_by("id").first()
    PaymentLine.objects.filter(pk=line.pk).update(status=LineStatus.CANCELLED)
    url = reverse("admin:subsidies_paymentline_changelist")
    page = finance.get(url, {"batch__id__exact": may_batch.pk})
    assert page.context["cl"].result_count == 4
    assert page.context["line_total_count"] == 3
    assert page.context["line_total_amount"] == Decimal("1010.00") - line.amount


def test_batch_page_offers_the_finance_steps_for_its_state(finance, may_batch):
    page = finance.get(_url("change", may_batch)).content.decode()
    assert _url("approve", may_batch) in page and "1,010.00" in page
    assert _url("export", may_batch) not in page  # a draft is not exported
    _approve(finance, may_batch)
    page = finance.get(_url("change", may_batch)).content.decode()
    assert _url("approve", may_batch) not in page and _url("export", may_batch) in page


def test_approval_shows_the_totals_first_and_approves_on_confirmation(finance, may_batch):
    page = finance.get(_url("approve", may_batch))
    assert page.status_code == 200
    body = page.content.decode()
    assert "确认审核" in body and "1,010.00" in body
    may_batch.refresh_from_db()
    assert may_batch.state == BatchState.DRAFT  # looking approves nothing
    _approve(finance, may_batch)
    assert may_batch.approved_by.username == "cashier"
    # Approving twice is refused by the service, and said so.
    response = finance.post(_url("approve", may_batch), {"confirm": "yes"}, follow=True)
    assert "不能重复审核" in response.content.decode()


def test_a_run_still_adding_lines_blocks_approval(finance, may_batch):
    AllowanceRun.objects.create(
        region=may_batch.region, period=MAY, status=RunStatus.RUNNING, batch=may_batch
    )
    response = finance.post(_url("approve", may_batch), {"confirm": "yes"}, follow=True)
    assert "尚未完成" in response.content.decode()
    may_batch.refresh_from_db()
    assert may_batch.state == BatchState.DRAFT


def test_only_finance_approves_exports_and_reconciles(may_batch, client):
    client.force_login(_staff("officer", "bureau", "330106"))
    assert client.get(_url("change", may_batch)).status_code == 200  # reads the batch
    for name in ("approve", "export", "bank_return"):
        assert client.get(_url(name, may_batch)).status_code == 403, name
    assert client.post(_url("approve", may_batch), {"confirm": "yes"}).status_code == 403
    may_batch.refresh_from_db()
    assert may_batch.state == BatchState.DRAFT
    page = client.get(_url("change", may_batch)).content.decode()
    assert _url("approve", may_batch) not in page


def test_finance_of_another_district_does_not_see_the_batch(may_batch, client):
    client.force_login(_staff("shangcheng", "finance", "330102"))
    listing = client.get(reverse("admin:subsidies_paymentbatch_changelist"))
    assert listing.context["cl"].result_count == 0
    assert client.get(_url("approve", may_batch)).status_code == 404
    lines = client.get(reverse("admin:subsidies_paymentline_changelist"))
    assert lines.context["cl"].result_count == 0
    review = client.get(
        reverse("admin:subsidies_paymentline_changelist"), {"batch__id__exact": may_batch.pk}
    )
    assert review.context["cl"].result_count == 0 and review.context["line_total_count"] == 0
    assert review.context["review_batch"] is None


def test_export_csv_and_xlsx_are_recorded_and_parse(finance, may_batch):
    response = finance.post(_url("export", may_batch), {"format": "csv"}, follow=True)
    assert "尚未审核" in response.content.decode()  # a draft is refused by export_batch
    _approve(finance, may_batch)
    assert finance.get(_url("export", may_batch)).status_code == 200
    response = finance.post(_url("export", may_batch), {"format": "csv"})
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    lines_name = next(n for n in archive.namelist() if not n.endswith(".totals.csv"))
    rows = list(csv.DictReader(io.StringIO(archive.read(lines_name).decode("utf-8"))))
    assert len(rows) == 4 and sum(Decimal(r["amount"]) for r in rows) == Decimal("1010.00")
    totals = archive.read(lines_name.replace(".csv", ".totals.csv")).decode("utf-8")
    assert "TOTAL,合计,4,1010.00" in totals
    response = finance.post(_url("export", may_batch), {"format": "xlsx"})
    assert response["Content-Disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    detail = list(workbook["明细1"].iter_rows(values_only=True))
    assert len(detail) == 5 and sum(Decimal(str(r[5])) for r in detail[1:]) == Decimal("1010.00")
    exports = BatchExport.objects.filter(batch=may_batch)
    assert sorted(exports.values_list("format", flat=True)) == ["csv", "xlsx"]
    assert {e.exported_by.username for e in exports} == {"cashier"}
    assert response["X-Checksum-SHA256"] in set(exports.values_list("sha256", flat=True))
    assert AuditEntry.objects.filter(action="export", object_id=str(may_batch.pk)).count() == 2
    may_batch.refresh_from_db()
    assert may_batch.state == BatchState.EXPORTED


@pytest.fixture
def exported(finance, may_batch):
    _approve(finance, may_batch)
    finance.post(_url("export", may_batch), {"format": "xlsx"})
    may_batch.refresh_from_db()
    assert may_batch.state == BatchState.EXPORTED
    return may_batch


def test_bank_return_preview_then_confirm_reconciles(finance, exported):
    lines = list(exported.lines.order_by("id"))
    failed = lines[0]
    rows = [[line.reference, "", "paid", f"B{line.pk}", ""] for line in lines[1:]]
    rows.append([failed.reference, "", "failed", "", "账户已销户"])
    url = _url("bank_return", exported)
    assert finance.get(url).status_code == 200
    preview = finance.post(url, {"file": _bank_csv(rows)})
    assert preview.status_code == 200
    result = preview.context["preview"]
    assert result.ok and result.paid_count == 3 and result.failed_count == 1
    assert result.pending_after == 0
    assert "确认对账" in preview.content.decode()
    assert not BankReturnImport.objects.exists()  # the preview writes nothing
    assert PaymentLine.objects.filter(batch=exported, status=LineStatus.PENDING).count() == 4
    done = finance.post(url, {"confirm": "1", "token": preview.context["token"]})
    assert done.status_code == 302
    record = BankReturnImport.objects.get()
    assert (record.paid_count, record.failed_count) == (3, 1)
    assert record.imported_by.username == "cashier"
    exported.refresh_from_db()
    assert exported.state == BatchState.RECONCILED
    failed.refresh_from_db()
    assert failed.status == LineStatus.FAILED and failed.bank_message == "账户已销户"
    assert PaymentLine.objects.filter(corrects=failed, kind=LineKind.REISSUE).count() == 1
    # The stored file is used once: confirming again is refused.
    again = finance.post(url, {"confirm": "1", "token": preview.context["token"]}, follow=True)
    assert "已失效" in again.content.decode()
    assert BankReturnImport.objects.count() == 1


def test_bank_return_xlsx_by_id_number(finance, exported):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id_number", "status", "bank_reference"])
    for line in exported.lines.select_related("elder"):
        sheet.append([line.elder.id_number, "paid", f"B{line.pk}"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    buffer.name = "return.xlsx"
    preview = finance.post(_url("bank_return", exported), {"file": buffer})
    assert preview.context["preview"].ok
    assert preview.context["preview"].paid_count == 4
    finance.post(_url("bank_return", exported), {"confirm": "1", "token": preview.context["token"]})
    assert set(exported.lines.values_list("status", flat=True)) == {LineStatus.PAID}


def test_bank_return_errors_name_row_and_field_and_nothing_is_written(finance, exported):
    line = exported.lines.order_by("id").first()
    rows = [
        [line.reference, "", "paid", "B1", ""],
        ["PL9999999999", "", "paid", "B2", ""],
        [line.reference, "", "maybe", "B3", ""],
        ["", "330106193901010019", "failed", "", ""],
    ]
    preview = finance.post(_url("bank_return", exported), {"file": _bank_csv(rows)})
    result = preview.context["preview"]
    assert not result.ok
    assert [r.matched for r in result.rows] == [True, False, False, False]
    errors = result.errors
    assert any(e.startswith("第3行 reference") for e in errors)
    assert any(e.startswith("第4行 status") for e in errors)
    assert any(e.startswith("第5行 id_number") for e in errors)
    body = preview.content.decode()
    assert "第3行 reference" in body and "确认对账" not in body
    assert "token" not in preview.context
    assert not BankReturnImport.objects.exists()
    assert set(exported.lines.values_list("status", flat=True)) == {LineStatus.PENDING}


def test_bank_return_with_a_wrong_header_or_type_is_refused_at_upload(finance, exported):
    bad = io.BytesIO(b"ref,state\nPL1,paid\n")
    bad.name = "return.csv"
    page = finance.post(_url("bank_return", exported), {"file": bad})
    assert "status 以及 reference 或 id_number" in page.content.decode()
    other = io.BytesIO(b"whatever")
    other.name = "return.pdf"
    page = finance.post(_url("bank_return", exported), {"file": other})
    assert "请上传 CSV 或 XLSX 文件" in page.content.decode()
    assert not BankReturnImport.objects.exists()


def test_bank_return_upload_needs_an_exported_batch(finance, may_batch):
    page = finance.get(_url("change", may_batch)).content.decode()
    assert _url("bank_return", may_batch) not in page
    line = may_batch.lines.first()
    preview = finance.post(
        _url("bank_return", may_batch), {"file": _bank_csv([[line.reference, "", "paid", "", ""]])}
    )
    confirm = finance.post(
        _url("bank_return", may_batch),
        {"confirm": "1", "token": preview.context["token"]},
        follow=True,
    )
    assert "只有已导出的批次可以对账" in confirm.content.decode()
    assert not BankReturnImport.objects.exists()


def test_run_progress_refreshes_while_running(finance, may_batch):
    running = AllowanceRun.objects.create(
        region=may_batch.region,
        period=datetime.date(2024, 6, 1),
        status=RunStatus.RUNNING,
        chunks_total=4,
        chunks_done=1,
    )
    page = finance.get(reverse("admin:subsidies_allowancerun_change", args=[running.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert '<meta http-equiv="refresh" content="5">' in body and "1/4（25%）" in body
    listing = finance.get(reverse("admin:subsidies_allowancerun_changelist")).content.decode()
    assert 'http-equiv="refresh"' in listing and "1/4（25%）" in listing
    AllowanceRun.objects.filter(pk=running.pk).update(status=RunStatus.DONE, chunks_done=4)
    page = finance.get(reverse("admin:subsidies_allowancerun_change", args=[running.pk]))
    assert 'http-equiv="refresh"' not in page.content.decode()
    assert "4/4（100%）" in page.content.decode()


# --- the file between preview and confirmation: held privately, used once, expiring --------


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _paid_rows(batch):
    return [[line.reference, "", "paid", f"B{line.pk}", ""] for line in batch.lines.all()]


def test_the_previewed_file_is_held_privately_and_deleted_once_used(finance, exported, media_root):
    url = _url("bank_return", exported)
    first = finance.post(url, {"file": _bank_csv(_paid_rows(exported))})
    second = finance.post(url, {"file": _bank_csv(_paid_rows(exported))})
    held = HeldUpload.objects.get()  # the second preview replaced the first
    assert str(held.pk) == second.context["token"] != first.context["token"]
    assert held.purpose == UploadPurpose.BANK_RETURN and held.owner.username == "cashier"
    assert not media_root.exists()
    finance.post(url, {"confirm": "1", "token": second.context["token"]})
    assert BankReturnImport.objects.count() == 1 and not HeldUpload.objects.exists()


def test_another_users_token_or_an_expired_file_is_not_accepted(
    finance, exported, client, settings
):
    url = _url("bank_return", exported)
    preview = finance.post(url, {"file": _bank_csv(_paid_rows(exported))})
    token = preview.context["token"]
    long_ago = timezone.now() - datetime.timedelta(hours=settings.UPLOAD_RETENTION_HOURS + 1)
    HeldUpload.objects.update(created_at=long_ago)
    refused = finance.post(url, {"confirm": "1", "token": token}, follow=True)
    assert "已失效" in refused.content.decode() and not BankReturnImport.objects.exists()

    HeldUpload.objects.update(created_at=timezone.now())
    colleague = _staff("cashier2", "finance", "330106")
    other = User.objects.get(pk=colleague.pk)
    client.force_login(other)
    client.post(url, {"file": _bank_csv([])})  # a session of their own, with no file held
    session = client.session
    session["bank_return"] = {"token": token, "batch": exported.pk}
    session.save()
    refused = client.post(url, {"confirm": "1", "token": token}, follow=True)
    assert "已失效" in refused.content.decode() and not BankReturnImport.objects.exists()


def test_a_file_over_the_limit_is_refused_with_a_message(finance, exported, settings):
    settings.UPLOAD_MAX_MB = 1
    big = io.BytesIO(_bank_csv(_paid_rows(exported)).getvalue() + b"\n" * (1024 * 1024))
    big.name = "return.csv"
    page = finance.post(_url("bank_return", exported), {"file": big})
    assert "文件过大" in page.content.decode() and "上限为 1 MB" in page.content.decode()
    assert not HeldUpload.objects.exists()
