"""What kind of refusal a domain error is, named by what it means; the web edge turns each kind into
a response.

Services and engine code raise subclasses of these categories and know nothing of HTTP: the one
mapping from category to status lives in `faune_platform.responses`, used by the API's exception
handler and by pages alike. A domain error keeps its other bases (e.g. ValueError) where callers
catch those.

No Django here: engine code imports it too."""

from dataclasses import dataclass, field


def gettext_noop(message: str) -> str:
    """Marks a message for the translation catalogue in code that imports no Django (makemessages
    finds the calls by name): whoever reports the refusal translates it for its reader."""
    return message


@dataclass(frozen=True)
class Worded:
    """A sentence for a person written where Django is not imported: a catalogue message
    (`gettext_noop`) and its values. `str()` is the English; whoever shows or stores it for a reader
    translates it (`faune_platform.responses.translated`). Empty: nothing to say."""

    template: str = ""
    params: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template % self.params if self.params else self.template

    def __bool__(self) -> bool:
        return bool(self.template)


class Catalogued(str):
    """A value inside a refusal's message that is itself a catalogue message (e.g. "a text", what a
    field must be): translated along with the message."""


class DomainError(Exception):
    """A refusal whose message is written for a person: it says what was refused and, where it can,
    what to do.

    Code without Django words it as a catalogue message (`gettext_noop`) with its values as keyword
    arguments; `words` keeps both, so that the web edge (or the service writing a report)
    translates it for its reader, while `str()` is the English. Code with Django passes a message
    it already translated, with no values."""

    def __init__(self, message: str, **params: object) -> None:
        self.words = Worded(message, params)
        super().__init__(str(self.words))


class InputRefused(DomainError):
    """What was asked cannot be done as given: a wrong value, a file that cannot be read, an
    unknown name."""


class StateConflict(DomainError):
    """What was asked clashes with how things stand now (someone changed it since, or a job is
    still running)."""


class NotFound(DomainError):
    """What was asked for does not exist, or not for this person."""


class Gone(DomainError):
    """What was asked for existed but has been removed, and will not come back."""


class TooLarge(DomainError):
    """One request carries more than one request may: send less at a time."""


class AllowanceSpent(DomainError):
    """An allowance over a period is spent; `retry_after_s` says when it comes back (0:
    not known)."""

    def __init__(self, message: str, *, retry_after_s: int = 0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


CATEGORIES: tuple[type[DomainError], ...] = (
    InputRefused,
    StateConflict,
    NotFound,
    Gone,
    TooLarge,
    AllowanceSpent,
)


def category_of(error: BaseException) -> type[DomainError] | None:
    """The most specific category the error belongs to: the first one in its class's method
    resolution order (an error that narrows another, e.g. 'busy' under 'invalid', lists its own
    category first). None: not a domain error."""
    order = type(error).__mro__
    found = [category for category in CATEGORIES if category in order]
    return min(found, key=order.index, default=None)
