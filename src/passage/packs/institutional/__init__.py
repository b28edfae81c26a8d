"""The yearly office questionnaire: its form and tags, the workflow per office, the figures it gives.

    from passage.packs.institutional import office_share, participation, breakdown_sum, indicator_values
    office_share(store, 2020, "collected_data", "yes")[0].text        # '130 offices (77 %)'
    participation(store, 2020).text                                    # '98 %'

See docs/questionnaire.md.
"""

from passage.packs.institutional.figures import (
    IndicatorValue,
    Participation,
    RegionParticipation,
    Share,
    answers,
    breakdown_sum,
    indicator_values,
    office_share,
    participation,
    percent,
)
from passage.packs.institutional.form import FORM_ID, Question, Questionnaire, load_questionnaire
from passage.packs.institutional.workflow import (
    STATES,
    WorkflowError,
    act,
    approve,
    import_answers,
    lock,
    reopen,
    save_answers,
    state,
    states,
    submit,
)


def load_demo_questionnaire(store, **kw):
    """Demo offices and answers (2020, and a few questions of 2019 and 2018); see passage.packs.institutional.demo."""
    from passage.packs.institutional.demo import load_demo_questionnaire as load

    return load(store, **kw)


__all__ = [
    "FORM_ID", "STATES", "IndicatorValue", "Participation", "Question", "Questionnaire", "RegionParticipation",
    "Share", "WorkflowError", "act", "answers", "approve", "breakdown_sum", "import_answers",
    "indicator_values", "load_demo_questionnaire", "load_questionnaire", "lock", "office_share", "participation",
    "percent", "reopen", "save_answers", "state", "states", "submit",
]
