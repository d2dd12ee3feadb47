"""tools/analysis/ablation/report.py: a run's scores and the study's seed noise."""

import pytest

from mmstda.evaluation import segment_f1
from mmstda.utils.errors import UserInputError

from ablation.report import (
    markdown_table,
    pooled_scores,
    rare_labels,
    read_class_table,
    run_scores,
    smallest_real_difference,
    summarise,
)


def test_rare_class_f1_pools_the_classes_below_the_median(tmp_path):
    # Median training count 3: labels 2 and 3 are rare, label 1 (exactly 3) is not.
    assert rare_labels([5, 3, 1, 1, 8]) == [2, 3]
    table = tmp_path / 'per_class_f1.csv'
    table.write_text(
        'label,class,num_gt,num_pred,tp,precision,recall,f1\n'
        '0,a,4,4,4,1,1,1\n1,b,3,1,1,1,0.33,0.5\n2,c,2,2,1,0.5,0.5,0.5\n'
        '3,d,2,1,0,0,0,0\n4,e,1,0,0,0,0,0\nall,5 videos,12,8,6,0.75,0.5,0.6\n'
    )
    scores = run_scores(read_class_table(str(table)), [2, 3])
    # Rare: tp 1, 3 predictions, 4 ground truths -> P 1/3, R 1/4, F1 2/7.
    assert scores['rare_f1'] == pytest.approx(2 / 7)
    assert scores['rare_num_gt'] == 4
    assert scores['test_f1'] == pytest.approx(0.6)  # P 6/8, R 6/12
    assert scores['test_num_gt'] == 12


def test_class_table_errors_name_the_file_and_row(tmp_path):
    table = tmp_path / 'per_class_f1.csv'
    table.write_text('label,class,num_gt,num_pred,tp\n0,a,4,x,4\n')
    with pytest.raises(UserInputError, match=r'per_class_f1.csv:2: expected integer'):
        read_class_table(str(table))
    table.write_text('label,class,num_gt,tp\n')
    with pytest.raises(UserInputError, match=r"missing columns \['num_pred'\]"):
        read_class_table(str(table))


def test_smallest_real_difference_pools_the_seed_spread():
    runs = {
        'a': [dict(test_f1=0.5), dict(test_f1=0.6), dict(test_f1=0.7)],  # variance 0.01
        'b': [dict(test_f1=0.4), dict(test_f1=0.4), dict(test_f1=0.4)],  # variance 0
        'c': [dict(test_f1=0.9)],  # one seed: no spread to pool
    }
    noise = smallest_real_difference(runs)
    # Pooled std sqrt((2 * 0.01 + 0) / 4); 2 standard errors of a difference of means.
    assert noise['pooled_std'] == pytest.approx(0.005**0.5)
    assert noise['difference'] == pytest.approx(2 * 0.005**0.5 * (2 / 3) ** 0.5)
    assert smallest_real_difference({'c': runs['c']}) is None


@pytest.mark.parametrize(
    'tp, num_pred, num_gt', [(3, 5, 4), (2, 2, 2), (0, 2, 3), (0, 0, 3), (0, 2, 0), (0, 0, 0)]
)
def test_pooled_scores_follow_the_rule_of_segment_f1(tp, num_pred, num_gt):
    """The study pools counts by the rule the metric scores with, divisions by zero included."""
    # One video: ``tp`` GTs of label 0 each hit by a prediction on it, the other
    # predictions of label 1 (no GT has it), the other GTs far from any prediction.
    gts = [(0, 10 * i, 10 * i + 5) for i in range(num_gt)]
    preds = [(0, 10 * i, 10 * i + 5, 0.9) for i in range(tp)]
    preds += [(1, 10 * i, 10 * i + 5, 0.9) for i in range(num_pred - tp)]
    scored = segment_f1({'video': preds}, {'video': gts})
    pooled = pooled_scores(tp, num_pred, num_gt)
    assert pooled == pytest.approx({key: scored[key] for key in pooled})


def _run(seed, train_minutes, cpu, resumed=False):
    return dict(
        seed=seed,
        test_f1=0.5,
        rare_f1=0.1,
        trainable_percent=4.0,
        train_minutes=train_minutes,
        train_cpu_minutes=cpu,
        peak_memory_mb=900.0,
        resumed=resumed,
    )


def test_resumed_runs_are_left_out_of_the_train_times_and_named():
    # Seed 2 was interrupted and resumed: its 1.2 minutes are its last attempt only.
    runs = {'stda': [_run(0, 10.0, 9.0), _run(1, 12.0, 11.0), _run(2, 1.2, 1.1, resumed=True)]}
    rows = [dict(name='stda', group='g', label='STDA', runs_of='stda')]
    (entry,) = summarise(rows, runs)
    assert entry['seeds'] == [0, 1, 2] and entry['untimed'] == [2]
    assert entry['train_minutes']['mean'] == pytest.approx(11.0)
    assert entry['train_cpu_minutes']['mean'] == pytest.approx(10.0)
    assert entry['test_f1']['mean'] == pytest.approx(0.5)  # scores keep every seed
    table = markdown_table([entry], None)
    assert '| 11.0 ± 1.4 | 10.0 ± 1.4 |' in table
    assert 'Train times leave out 1 resumed run(s) (stda seed 2)' in table


def test_times_a_launcher_could_not_measure_read_not_measured():
    # Slurm runs record no CPU time; a variant with no finished run reads 'not run'.
    runs = {'stda': [_run(0, 10.0, None)]}
    rows = [
        dict(name='stda', group='g', label='STDA', runs_of='stda'),
        dict(name='x3d', group='g', label='X3D', runs_of='x3d'),
    ]
    stda, x3d = markdown_table(summarise(rows, runs), None).splitlines()[2:4]
    assert stda.split(' | ')[5:7] == ['10.0', 'not measured']
    assert x3d.split(' | ')[2] == 'not run'
