"""The sample county: a seeded generator of a synthetic Qinghe county (``pingan-eval synth``).

The generator builds a *finite population* first and only then draws the survey from it,
so the true values (``truth.csv``) are exact properties of a population the sample really
came from, and a design-based estimator is unbiased for them:

1. **Population.** Villages and communities per township, households per village,
   1-5 adults per household, each adult with sex, age and ethnicity (the ethnic mix of a
   household comes from its village, which scatters around its township's mix).
2. **Answers.** For every adult, month ``t`` and indicator ``k``::

       logit P(positive) = a[township, t, k] + u[village, k] + b_age + b_ethnicity + b_sex

   ``u ~ N(0, 0.4^2)`` is the village effect that makes answers cluster (intra-class
   correlation); ``a`` is solved so that the population share of the township equals a
   planned level moving from the first to the last wave (plus monthly noise). Five-point
   questions follow a cumulative-logit model whose "positive" split (codes 1-3) is that
   same probability. "Don't know" (code 9) is drawn at a few percent, twice as often at 65+.
3. **Design.** Townships are strata; per township 5-6 villages are drawn once by
   systematic PPS on households (certainty villages get ``psu_prob`` 1). Every month each
   sampled village draws households by simple random sampling, a village-specific share of
   them responds (75-95%), and one adult of each responding household is interviewed.
4. **Registers and task logs** of the campaign's plan year, with planted defects.

The last wave carries a dozen planted invalid rows, listed in ``planted_errors.csv``
together with the planted register defects. Every random stream is derived from the seed
and a fixed label, and every output is sorted and formatted without timestamps, so the
same seed gives the same bytes.

Modules: ``population`` (places, people, answers; truth, census, codebook), ``waves``
(monthly fieldwork and interviews, personal data, planted errors), ``registers`` (the
safe-cell register), ``tasks`` (task logs) and ``generate`` (the sample of villages and
:func:`synth_county`, which writes it all).
"""

from pingan_eval.data.synth.generate import main_synth, synth_county
from pingan_eval.data.synth.population import TOWNSHIPS
from pingan_eval.data.synth.registers import CATEGORIES

__all__ = ["CATEGORIES", "TOWNSHIPS", "main_synth", "synth_county"]
