"""Locust request names of a storm's outcomes (shared by the users, recorder and results)."""

GRAB = "grab"  # a new grab, 200 with repeat=false
SOLD_OUT = "grab sold_out"  # 409, expected in a storm
EXPIRED = "grab expired"  # 410, expected
REPEAT = "grab repeat"  # 200 with repeat=true: the answer to a client retry
CREATE = "create envelope"
GRAB_NAMES = (GRAB, SOLD_OUT, EXPIRED, REPEAT)

#: an adapter's Outcome (a str enum: hongbao.loadtests.adapters) -> the Locust name it is counted under
BY_OUTCOME = {"granted": GRAB, "sold_out": SOLD_OUT, "expired": EXPIRED, "repeat": REPEAT}
