"""Website contact forms: the builder's definitions (:mod:`.builder`), spam
defence (:mod:`.spam`) and what a submission does (:mod:`.submission`)."""
