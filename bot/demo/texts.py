"""What Larkspur's seeded kudos say: the published ones with their value, and those the
compliance gate stops."""

PUBLISHED = (
    ("thanks for the site activation email that got three sites live", "#site-activation"),
    ("for turning around the congress booth copy overnight", "#digital-content"),
    ("thanks for untangling the advisory board logistics", "#collaboration"),
    ("for the patient enrollment tracker the whole team now uses", "#patient-enrollment"),
    ("thanks for walking the new reps through the approved materials", "#compliance-excellence"),
    ("for the quarterly newsletter layout", "#digital-content"),
    ("thanks for covering the territory review while I was out", "#collaboration"),
    ("for the clean handover of the payer dossier", "#collaboration"),
    ("thanks for fixing the portal login page before the launch webinar", "#digital-content"),
    ("for chasing the last site contracts over the finish line", "#site-activation"),
    ("thanks for the careful medical review of the training deck", "#compliance-excellence"),
    ("for the enrollment dashboard that saves us an hour a week", "#patient-enrollment"),
    ("thanks for organising the regional kickoff", "#collaboration"),
    ("for the speaker briefing pack", "#digital-content"),
)
# What the compliance gate keeps from being posted: held for review, blocked, passed to safety.
STOPPED = (
    "great idea to show Cardivex in pregnancy at the booth",
    "the Oncozol email calls it the best treatment",
    "thanks for the call where the caller's husband was hospitalized while taking Somnira",
    "great idea to show Cardivex in pregnancy at the regional meeting",
    "love that the Oncozol leaflet says it is the best treatment",
    "thanks for the slides showing Cardivex in pregnancy for the field team",
)
