"""A pytest plugin for every mutant's pack: Hypothesis without its shrink phase.

A Hypothesis test that fails goes on to shrink its example to a smallest one, rerunning the operation dozens
or hundreds of times: on a loaded machine, minutes for one mutant, past the HTTP distributor's 5-minute limit
per request (the mutant then ends without a verdict). A mutant is killed by the first failing example; the
smallest one only helps a person read the failure, which the mutation run does not show. Every other phase
(explicit examples, the saved failures, generation, targeting) runs as in the pack.
"""

from hypothesis import Phase, settings

settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target])
settings.load_profile("mutation")
