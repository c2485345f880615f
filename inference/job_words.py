"""A job's status as a page shows it. The status is stored in English
(`faune_platform.jobs.JobStatus`) and translated only where a person reads it: `{% translate
job.status %}` in templates (these entries put the words in the catalogue), `job_status_words()` for
a page's script and `job_status_word` for messages."""

from django.utils.translation import gettext, gettext_lazy

JOB_STATUS_WORDS = {
    "queued": gettext_lazy("queued"),
    "running": gettext_lazy("running"),
    "done": gettext_lazy("done"),
    "failed": gettext_lazy("failed"),
    "cancelled": gettext_lazy("cancelled"),
}


def job_status_word(status: str) -> str:
    """The status in the reader's language (an unknown one as it is stored)."""
    return gettext(status) if status in JOB_STATUS_WORDS else status


def job_status_words() -> dict[str, str]:
    """Every status in the reader's language, for a script that follows a job (`json_script`)."""
    return {status: str(word) for status, word in JOB_STATUS_WORDS.items()}
