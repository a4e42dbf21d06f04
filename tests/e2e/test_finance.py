"""Finance in a real browser: review the draft batch of the demo's allowance run (totals per
scheme and in all), approve it behind the confirmation page, export it as CSV and as XLSX, and
check that both downloads arrive and carry the reviewed totals.

approve_batch asks for the finance permission, a draft batch and a finished run; it has no
second-approver rule, so one finance login approves."""

import csv
import io
import zipfile
from decimal import Decimal

from openpyxl import load_workbook


def _yuan(text: str) -> Decimal:
    # Amounts are shown with thousands separators (1,234.50).
    return Decimal(text.replace(",", ""))


def _totals(page) -> tuple[int, Decimal]:
    footer = page.locator("#line-totals tfoot")
    return (
        int(footer.locator(".total-count").inner_text()),
        _yuan(footer.locator(".total-amount").inner_text()),
    )


def _download(page, button: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.locator(button).click()
    download = info.value
    with open(download.path(), "rb") as handle:
        return download.suggested_filename, handle.read()


def test_finance_reviews_approves_and_exports_the_demo_batch(login, page, step):
    login("finance")
    step("home")
    assert "待审核批次" in page.locator("#daily-tasks").inner_text()

    # The demo's allowance run and its batch.
    page.goto("/admin/subsidies/allowancerun/?status__exact=done")
    step("runs")
    page.locator("#result_list a", has_text="批次 #").first.click()
    page.wait_for_load_state()
    step("batch")
    assert "草稿" in page.locator(".field-state").inner_text()

    page.get_by_role("link", name="审阅明细").click()
    page.wait_for_load_state()
    step("review")
    count, amount = _totals(page)
    assert count > 0 and amount > 0
    per_scheme = page.locator("#line-totals tbody tr")
    assert per_scheme.count() >= 1
    cells = [per_scheme.nth(i).locator("td").all_inner_texts() for i in range(per_scheme.count())]
    assert sum(int(c[1]) for c in cells) == count
    assert sum(_yuan(c[2]) for c in cells) == amount  # exact, to the fen

    page.locator("#review-batch-link").click()
    page.wait_for_load_state()
    page.locator("#approve-batch").click()
    page.wait_for_load_state()
    step("confirm-approval")
    confirm_total = page.locator(".batch-totals .total-amount").inner_text()
    assert _yuan(confirm_total) == amount
    page.locator("#confirm-approve").click()
    page.wait_for_load_state()
    step("approved")
    assert "已审核" in page.locator(".messagelist").inner_text()
    assert "已审核" in page.locator(".field-state").inner_text()

    page.locator("#export-batch").click()
    page.wait_for_load_state()
    step("export-page")
    name, content = _download(page, "#export-csv")
    assert name.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(content))
    lines_name = next(n for n in archive.namelist() if not n.endswith(".totals.csv"))
    rows = list(csv.DictReader(io.StringIO(archive.read(lines_name).decode("utf-8"))))
    assert len(rows) == count
    assert sum(Decimal(r["amount"]) for r in rows) == amount
    totals = archive.read(lines_name.replace(".csv", ".totals.csv")).decode("utf-8")
    assert f"TOTAL,合计,{count},{amount}" in totals

    name, content = _download(page, "#export-xlsx")
    assert name.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    detail = [r for sheet in workbook.worksheets[1:] for r in sheet.iter_rows(values_only=True)]
    detail = [r for r in detail if r[0] != "reference"]
    assert len(detail) == count
    # Amounts are numeric cells (read back as numbers): summed as their decimal text.
    assert sum(Decimal(str(r[5])) for r in detail) == amount
    summary = list(workbook["汇总"].iter_rows(values_only=True))
    total = next(row for row in summary if row[0] == "TOTAL")
    assert total[1:3] == ("合计", count) and Decimal(str(total[3])) == amount

    page.reload()
    step("exports-recorded")
    assert page.locator("table").last.locator("tbody tr").count() == 2  # both exports recorded
