"""Automatic lip-sync quality: one report per output, comparable across engines and jobs.

    measure_quality(output, audio, template)  -> QualityReport
    QualityReport.failures(QualityThresholds()) -> what falls short, in words
    QualityReport.as_row()                      -> q_* columns for the results manifest
    lagged_correlation(a, b, max_lag)           -> Pearson r per lag, NaN-aware

Sync is the cross-correlation of the output's tracked mouth opening with the driving speech level;
the template comparison checks that only the lower face changed, that it stayed sharp, and that the
template's own mouth motion did not leak through.
"""

from heygem_ops.quality.correlation import Sync, best_sync, lagged_correlation, pearson
from heygem_ops.quality.measure import MAX_LAG, measure_quality, speech_level
from heygem_ops.quality.report import QualityReport, QualityThresholds

__all__ = [
    "MAX_LAG",
    "QualityReport",
    "QualityThresholds",
    "Sync",
    "best_sync",
    "lagged_correlation",
    "measure_quality",
    "pearson",
    "speech_level",
]
