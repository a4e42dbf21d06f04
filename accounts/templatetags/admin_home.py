from django import template

from accounts import admin_home

register = template.Library()


@register.simple_tag(takes_context=True)
def daily_tasks(context):
    """The signed-in user's task groups for the admin's home page."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    return admin_home.task_groups(request.user)


@register.simple_tag(takes_context=True)
def dashboard_link(context):
    """The bureau dashboard's URL for the roles that read it, else None."""
    request = context.get("request")
    if request is None or not admin_home.shows_dashboard(request.user):
        return None
    return admin_home.dashboard_url()
