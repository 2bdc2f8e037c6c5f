from smsconsole.selectors import account_list_for_staff


def console(request):
    user = getattr(request, "user", None)
    account = getattr(request, "console_account", None)
    is_staff = bool(user and user.is_authenticated and user.is_staff)
    return {
        "console_account": account if user and user.is_authenticated else None,
        "switchable_accounts": account_list_for_staff() if is_staff else (),
    }
