import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from residents.id_numbers import mask_id_number, with_check_character
from residents.importing import COLUMNS
from residents.models import Elder
from tests.factories import ElderFactory


@pytest.fixture
def admin(client, rulebook, django_user_model, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    user = django_user_model.objects.create_superuser("root", "root@example.org", "pw-123456!")
    client.force_login(user)
    return client


def test_changelist_and_detail_mask_ids_and_detail_shows_the_qr(admin):
    # The whole number is shown only on request, with a reason (tests/accounts/test_reveal.py).
    elder = ElderFactory()
    page = admin.get("/admin/residents/elder/").content.decode()
    assert mask_id_number(elder.id_number) in page
    assert elder.id_number not in page
    detail = admin.get(f"/admin/residents/elder/{elder.pk}/change/").content.decode()
    assert mask_id_number(elder.id_number) in detail and "<svg" in detail
    assert elder.id_number not in detail and "显示完整" in detail
    qr = admin.get(f"/admin/residents/elder/{elder.pk}/qr/").content.decode()
    assert elder.elder_code in qr and "<svg" in qr


@pytest.mark.parametrize(
    "query", ["age_band=80-89", "category=living_alone", "hukou=330106", "pension_type__exact=none"]
)
def test_changelist_filters_work(admin, query):
    ElderFactory()
    assert admin.get(f"/admin/residents/elder/?{query}").status_code == 200


def test_search_by_exact_id_number(admin):
    elder = ElderFactory()
    ElderFactory()
    page = admin.get(f"/admin/residents/elder/?q={elder.id_number}").content.decode()
    assert "1 条结果" in page or "1 result" in page


def test_the_search_box_says_what_it_finds(admin):
    """A part of an ID number finds no one, on purpose: the box says so, in both languages."""
    elder = ElderFactory()
    page = admin.get("/admin/residents/elder/").content.decode()
    assert "身份证号（18 位）或长者码（E 开头）须完整输入" in page
    partial = admin.get(f"/admin/residents/elder/?q={elder.id_number[:10]}").content.decode()
    assert "0 条结果" in partial
    english = admin.get("/admin/residents/elder/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "must be typed in full" in english


def test_admin_add_derives_sex_and_birth_date(admin):
    from regions.models import Region

    number = with_check_character("33010619500505011")
    response = admin.post(
        "/admin/residents/elder/add/",
        {
            "id_number": number,
            "name": "孙九",
            "hukou_region": Region.objects.get(code="330106").pk,
            "phone": "",
            "pension_type": "none",
            "categories-TOTAL_FORMS": 0,
            "categories-INITIAL_FORMS": 0,
            "assessments-TOTAL_FORMS": 0,
            "assessments-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    elder = Elder.objects.get(id_number=number)
    assert (elder.sex, str(elder.birth_date)) == ("M", "1950-05-05")


def test_admin_import_previews_errors_then_imports_on_confirm(
    admin, django_capture_on_commit_callbacks, tasks_in_process
):
    good = with_check_character("33010619500505004")
    content = f"{','.join(COLUMNS)}\n{good},赵六,330106,,,,,\nbad,钱七,330106,,,,,\n".encode()
    with django_capture_on_commit_callbacks(execute=True):
        uploaded = admin.post(
            "/admin/residents/elder/import/",
            {"file": SimpleUploadedFile("elders.csv", content, content_type="text/csv")},
        )
    preview = admin.get(uploaded.url)
    page = preview.content.decode()
    assert preview.status_code == 200
    assert "created 1, updated 0, rejected 1" in page and "id_number" in page
    assert not Elder.objects.exists()
    job = preview.context["job"]
    with django_capture_on_commit_callbacks(execute=True):
        done = admin.post(f"/admin/residents/elder/import/{job.pk}/", {"confirm": "1"})
    assert done.status_code == 302
    assert list(Elder.objects.values_list("id_number", flat=True)) == [good]


def test_the_place_filters_of_an_area_read_each_place_once_not_each_elder(client, rulebook):
    """The filters list the distinct places of the user's elders: DISTINCT over the place
    alone (with the list's ordering it was over place and id, a row per elder: 2.4 s for a
    province bureau's first page at a million elders)."""
    from django.contrib.auth.models import Permission, User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.choices import Role
    from accounts.models import RoleAssignment
    from regions.models import Region

    ElderFactory()
    user = User.objects.create_user("bureau-filters", is_staff=True)
    RoleAssignment.objects.create(
        user=user, role=Role.BUREAU, region=Region.objects.get(code="330106")
    )
    user.user_permissions.add(Permission.objects.get(codename="view_elder"))
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/residents/elder/").status_code == 200
    distinct = [
        q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT DISTINCT")
    ]
    assert distinct
    for sql in distinct:
        selected = sql.split(" FROM ", 1)[0]
        assert '"residents_elder"."id"' not in selected, sql
