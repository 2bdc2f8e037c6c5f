"""The one family of exceptions services raise when they refuse to do something."""


class ServiceError(Exception):
    """A refused request. `errors` maps a field (or "non_field_errors") to messages."""

    status_code = 400

    def __init__(self, message: str, *, errors: dict | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code
        self.errors = errors or {}


class NotFound(ServiceError):
    status_code = 404

    def __init__(self, message: str | None = None):
        from django.utils.translation import gettext

        super().__init__(message or gettext("Not found."), code="not_found")


class PermissionDenied(ServiceError):
    status_code = 403

    def __init__(self, message: str):
        super().__init__(message, code="permission_denied")


def full_clean_or_refuse(instance, *, exclude=None) -> None:
    """Run model validation; turn its errors into a ServiceError naming each field."""
    from django.core.exceptions import ValidationError

    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        errors = exc.message_dict
        summary = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        raise ServiceError(summary, errors=errors) from None
