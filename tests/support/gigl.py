"""Real GiGL configs the tests load (tests/config/gigl/)."""

from tests.support import REPO

# A link prediction GbmlConfig with every field GiGL's schema has set.
EVERY_FIELD = REPO / "tests" / "config" / "gigl" / "link_prediction_every_field.yaml"
