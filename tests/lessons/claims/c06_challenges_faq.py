"""Lesson 06's claims table (see tests/lessons/claims/__init__.py).

Which way balancing moved each rate, whether a moved threshold mimics class
weights, whether a method over-states the minority's risk, and the FAQ's
verdicts are printed by code from the numbers; the claims here back the
sentences that stay in markdown.
"""
import re

from claims import Claim, Executed

LESSON = "06_challenges_faq"

STUDY = "runs = classifiers.imbalance_study(list(sets), seeds=range(10))"


def _shares(nb: Executed) -> dict[str, tuple[int, float]]:
    text = nb.text("share = np.mean(train.y == ds.positive_label)")
    return {m.group(1): (int(m.group(2)), float(m.group(3)) / 100)
            for m in re.finditer(r"(\w+): (\d+) training images, .*?, (\d+)% of them", text)}


def _disease_is_minority_in_breast_majority_in_pneumonia(nb: Executed) -> None:
    s = _shares(nb)
    assert s["breastmnist"][1] < 0.5 < s["pneumoniamnist"][1], s


def _a_few_hundred_labelled_images(nb: Executed) -> None:
    s = _shares(nb)
    assert all(100 <= n < 1000 for n, _ in s.values()), s


def _oversampling_equals_the_largest_class(nb: Executed) -> None:
    text = nb.text('for what, split in [("training set", bm_train), ("oversampled"')
    before = [int(v) for v in re.findall(r"\d+", text.splitlines()[0].split(":", 1)[1])]
    after = [int(v) for v in re.findall(r"\d+", text.splitlines()[1].split(":", 1)[1])]
    assert after == [max(before)] * 2, (before, after)


def _single_seed_models_at_least_ten(nb: Executed) -> None:
    text = nb.text(STUDY)
    seeds = [int(v) for v in re.findall(r"(\d+) single-seed models per method", text)]
    assert len(seeds) == 2 and min(seeds) >= 10, text[:400]
    assert "seed-averaged" not in text


def _minority_classes(nb: Executed) -> None:
    text = nb.text("def moved(d):")
    assert "breastmnist: minority class 'malignant'" in text, text
    assert re.search(r"pneumoniamnist: minority class 'normal'", text), text


def _test_splits_of_a_few_hundred_images(nb: Executed) -> None:
    text = nb.text("ECE {r['ece_mean']:.3f}")
    shares = dict(re.findall(r"(\w+): minority '[^']+', ([\d.]+) of the test images", text))
    assert set(shares) == {"breastmnist", "pneumoniamnist"}, text[:400]
    feats = nb.text('print("features:", f_train.shape, f_test.shape, f_shift.shape)')
    n_test = int(re.search(r"\((\d+), 64\)", feats).group(1))
    assert 100 <= n_test < 1000, feats


def _features_are_64_and_sets_equally_large(nb: Executed) -> None:
    text = nb.text('print("features:", f_train.shape, f_test.shape, f_shift.shape)')
    shapes = re.findall(r"\((\d+), (\d+)\)", text)
    assert len(shapes) == 3 and len(set(shapes)) == 1 and shapes[0][1] == "64", text


def _grad_cam_maps_are_7x7(nb: Executed) -> None:
    text = nb.text("Grad-CAM resolution (last convolutional maps)")
    assert "(7, 7)" in text, text


def _faq_names_each_comparison(nb: Executed) -> None:
    text = nb.text('evidence = [curves.compare(name, progress=False) for name in ("pneumoniamnist", "breastmnist")]')
    blocks = text.split("pretrained - best scratch:")
    assert "same-domain self-supervised pretraining" in blocks[1] and "cross-dataset" not in blocks[1], text[:600]
    assert "cross-dataset transfer" in blocks[2], text[:900]


def _the_rnn_is_lesson_03s(nb: Executed) -> None:
    source = nb.code("lesson 03's RNN (ECG beats)").source
    assert "ecg.RNN_RECIPE.arch()" in source, "the RNN shown must be built with lesson 03's recipe"
    assert "weights" in nb.text("lesson 03's RNN (ECG beats)")


CLAIMS = [
    Claim("In BreastMNIST the disease (malignant, label 0) is the **minority**; in PneumoniaMNIST the disease "
          "(pneumonia, label 1) is the **majority**.", _disease_is_minority_in_breast_majority_in_pneumonia),
    Claim("The study below trains each dataset with a few hundred labelled images", _a_few_hundred_labelled_images),
    Claim("until the class is as large as the largest one", _oversampling_equals_the_largest_class),
    Claim("Each seed's model is scored **on its own** at the threshold 0.5", _single_seed_models_at_least_ten),
    Claim("On BreastMNIST the minority is the disease (malignant)", _minority_classes),
    Claim("On PneumoniaMNIST the minority is the *normal* class", _minority_classes),
    Claim("with test splits of a few hundred images", _test_splits_of_a_few_hundred_images),
    Claim("the base's 64 pooled channels", _features_are_64_and_sets_equally_large),
    Claim("the average of each feature map: 64 features", _features_are_64_and_sets_equally_large),
    Claim("as many as there are test X-rays", _features_are_64_and_sets_equally_large),
    Claim("64 maps of 7 × 7 positions", _grad_cam_maps_are_7x7),
    Claim("each printed with the name of what it is", _faq_names_each_comparison),
    Claim("this lesson's image classifier and lesson 03's recurrent network for ECG200", _the_rnn_is_lesson_03s),
]
