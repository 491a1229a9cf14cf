#!/usr/bin/env bash
# The detector's yardstick runs (docs/detection.md "Home streams", issues #10 and #15), one after
# another (two cores: one training at a time). Idempotent: a step whose output already exists is
# skipped, so the script continues where it stopped after a session ends.
#
#   scripts/detector-runs.sh CORPORA_DIR RUNS_DIR [GROUP...]
#     CORPORA_DIR  every corpus of ../shared/data (get-corpus NAME CORPORA_DIR), emodb included
#     GROUP        floor | candidates (= pgru pegru gru) | pgru | pegru | gru | pgru2 | pegru2 | lr2 |
#                  lrh | lrh24 | egru | gru-dh | gru-dh-hn | gru-cs | pair | pair-gate | pair-gate-egru |
#                  pair-gate-dh | pair-gate-dh-hn | lrh24p | gru-dh-pitch | pair-gate-dhp-lr24p |
#                  adapt-dh | adapt-dh-pitch | ship-dh | pair-gate-ship-dh | pair-gate-ship-dh-cd10 |
#                  pair-gate-cd10 | ship-dh-hn | pair-gate-ship-dh-hn-cd10 | ship-edh |
#                  speech-dh | pair-gate-speech-dh-cd10 | cnnp-dh | pair-gate-cnnp-cd10 |
#                  pair-gate-dh-cnnp-cd10 | cnnp-dh-hn | pair-gate-dh-cnnp-hn-cd10 |
#                  ship-edh128 | pair-gate-edh128-cd10 | pair-gate-edh128-cnnp-cd10 |
#                  ship-dh-s2 | pair-gate-dh2-cnnp-hn-cd10 | pair-gate-edh128-cnnp-hn-cd10 |
#                  cnnp-dh-hn10 | pair-gate-dh-cnnp-hn10-cd10 |
#                  fold-cnnp-dh-hn | fold-cnnp-dh-hn10 | fold-pair-dh-cnnp-hn10 |
#                  fold-pair-dh-cnnp-hn | fold2-pair-dh-cnnp-hn10 | fresh-fold2-pair-dh-cnnp-hn10 |
#                  fresh-shipped | sounds-front | long-shipped | long-dh-cnnp-hn10 |
#                  long-dh-cnnp-hn | long-dh-lr24 | fold-screams-dh-cnnp-hn | kinds-dh-cnnp-hn |
#                  kinds-shipped | kinds-seed8 | kinds-shipped-seed8 | margin-dh-cnnp-hn |
#                  margin-shipped | clean-dh-cnnp-hn | clean-shipped | accept-dh-cnnp-hn |
#                  accept-dh-cnnp-hn-b |
#                  loco-lr | loco-pgru
#                  (default: floor candidates)
#                  loco-ARCH: leave-one-corpus-out over every speech corpus — train ARCH (home
#                  classes) on all the others and the sound corpora, test on it; summarise with
#                  node scripts/loco-table.mjs RUNS/loco-ARCH-*.json
#
# The held-out split ("LOCO-3"): speech corpora ravdess (English), casia (Mandarin) and emodb
# (German), sound corpora sased (laughter, cough, throat clearing, …) and esc10 (sneeze, baby cry,
# dog, …) and half of the screams are never trained on nor used to pick an epoch. Training uses
# crema-d, nemo, ased, baved, emospeech, donateacry, kitchen20, urbansound, snoring and the other
# half of the screams. For each model:
#   RUNS/NAME/              the bundle, history, plots (earwitness train)
#   RUNS/NAME.eval.txt      eval --data … --held-out: per corpus and pooled, unadapted and adapted
#   RUNS/NAME.home.json     bench --streams … --mix home --held-out: 6 streams × 20 min, seed 2
#   RUNS/NAME.sounds.json   bench --streams … --mix sounds --held-out: 3 streams × 20 min, seed 3
#   RUNS/NAME.tuned.yaml    detector settings tuned on streams of the run's validation speakers
#                           and recordings (bench --validation-of --sweep, seed 1), used for both
#                           held-out checks above
# Shipped-model reference row: group "floor" also scores earwitness-gru 0.1.0, with its shipped
# detector defaults, on the same held-out streams.
set -euo pipefail
corpora=${1:?corpora dir}
runs=${2:?runs dir}
shift 2
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(floor candidates)
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${EARWITNESS_SHARED:-$here/../shared}
ew=(node "${EARWITNESS_BUILD:-$here}/dist/src/cli/main.js")
noise="$shared/data/noise"
mkdir -p "$runs"

train_corpora=(crema-d nemo ased baved emospeech donateacry kitchen20 urbansound snoring screams)
test_corpora=(ravdess casia emodb sased esc10)
all_data=()
for c in "${train_corpora[@]}" "${test_corpora[@]}"; do all_data+=(--data "$corpora/$c"); done
held=()
for c in "${test_corpora[@]}"; do held+=(--test-corpus "$c"); done
held+=(--test-corpus screams:0.5)
test_streams=()
for c in "${test_corpora[@]}" screams; do test_streams+=(--streams "$corpora/$c"); done
train_streams=()
for c in "${train_corpora[@]}"; do train_streams+=(--streams "$corpora/$c"); done

# A pair's config: the scream branch on, with SCREAM_RUN's model (GATE: gate_speech, default true);
# every setting else the schema's defaults (a sweep then chooses them).
pair_config() { # OUT SCREAM_RUN [GATE]
  printf 'detect:\n  screams:\n    enabled: true\n    gate_speech: %s\n    model_dir: %s\n' "${3:-true}" "$2" > "$1"
}

# The models shipped until session 15 (0.1.0), the reference of every comparison in sessions
# 10–15: models/ holds 0.2.0 since, so 0.1.0 comes out of git history (the last commit that had
# it) into RUNS/ship/NAME-0.1.0. EARWITNESS_REPO: a checkout of earwitness, when this script runs
# from a copy (EARWITNESS_BUILD).
previous_model() { # NAME (earwitness-gru | earwitness-egru) → its directory
  local dir="$runs/ship/$1-0.1.0"
  if [ ! -s "$dir/bundle.json" ]; then
    mkdir -p "$dir"
    git -C "${EARWITNESS_REPO:-$here}" archive 2ba6ad6 "models/$1" | tar -x --strip-components=2 -C "$dir" \
      || { echo "cannot take $1 0.1.0 out of git (set EARWITNESS_REPO to a checkout of earwitness)" >&2; rm -rf "$dir"; }
  fi
  echo "$dir"
}

# The shipped pair 0.1.0 at its own defaults, written out (the schema's defaults changed with
# 0.2.0): speech none, 0.85 / 0.65, 2 of 3; screams (the lr run) none, 0.85 / 0.65, 2 of 3, min 2 s.
shipped_pair_config() {
  cat > "$runs/loco3-shipped-pair.tuned.yaml" <<YAML
detect:
  smoothing: { method: none }
  enter_threshold: 0.85
  exit_threshold: 0.65
  k: 2
  n: 3
  min_duration_s: 0
  hold_s: 2
  cooldown_s: 10
  screams:
    enabled: true
    gate_speech: true
    model_dir: $runs/loco3-lr24-home
    smoothing: { method: none }
    enter_threshold: 0.85
    exit_threshold: 0.65
    k: 2
    n: 3
    min_duration_s: 2
YAML
}

# A config whose danger labels are the model's own (home models add scream), the model alone (the
# default scream branch off: measure_pair measures pairs).
config_for() { # MODEL_DIR → path of a config file
  local f="$runs/$(basename "$1").config.yaml"
  node -e '
    const m = JSON.parse(require("fs").readFileSync(process.argv[1] + "/bundle.json", "utf8"));
    process.stdout.write("detect:\n  danger:\n    labels: [" + m.danger.join(", ") + "]\n  screams:\n    enabled: false\n");
  ' "$1" > "$f"
  echo "$f"
}

measure() { # NAME MODEL_DIR [SPLIT_BUNDLE [EXTRA_YAML]]  (SPLIT_BUNDLE given and not "": score on its split, default detector; EXTRA_YAML: top-level config sections added to the model's config)
  local name=$1 model=$2 split=${3:-} extra=${4:-} cfg
  cfg=$(config_for "$model")
  if [ -n "$extra" ]; then
    { cat "$cfg"; printf '%s\n' "$extra"; } > "$runs/$name.config.yaml"
    cfg="$runs/$name.config.yaml"
  fi
  if [ ! -s "$runs/$name.eval.txt" ]; then
    echo "$(date -u +%FT%TZ) eval  $name"
    "${ew[@]}" eval --model "$model" "${all_data[@]}" --held-out-of "${split:-$model}" > "$runs/$name.eval.txt" 2> "$runs/$name.eval.log" || echo "eval failed: $runs/$name.eval.log"
  fi
  if [ -z "$split" ]; then
    # Tune the detector on streams of the run's validation speakers and recordings (never trained
    # on, not the test corpora), by the written rule; check the choice on the held-out streams.
    if [ ! -s "$runs/$name.tuned.yaml" ]; then
      echo "$(date -u +%FT%TZ) tune  $name"
      "${ew[@]}" bench --no-pin --model "$model" --config "$cfg" "${train_streams[@]}" --noise "$noise" --mix home --validation-of "$model" \
        --per-dir 6 --stream-minutes 20 --seed 1 --sweep --write-config "$runs/$name.tuned.part" --out "$runs/$name.tune.json" > "$runs/$name.tune.txt" 2> "$runs/$name.tune.log" || echo "tune failed: $runs/$name.tune.log"
      { cat "$runs/$name.tuned.part"; sed -n '2,$p' "$cfg"; } > "$runs/$name.tuned.yaml"
    fi
    cfg="$runs/$name.tuned.yaml"
  fi
  split=${split:-$model}
  if [ ! -s "$runs/$name.home.json" ]; then
    echo "$(date -u +%FT%TZ) home streams $name"
    "${ew[@]}" bench --no-pin --model "$model" --config "$cfg" "${test_streams[@]}" --noise "$noise" --mix home --held-out-of "$split" \
      --per-dir 6 --stream-minutes 20 --seed 2 --sweep --out "$runs/$name.home.json" > "$runs/$name.home.txt" 2> "$runs/$name.home.log" || echo "bench failed: $runs/$name.home.log"
  fi
  if [ ! -s "$runs/$name.sounds.json" ]; then
    echo "$(date -u +%FT%TZ) sound streams $name"
    "${ew[@]}" bench --no-pin --model "$model" --config "$cfg" "${test_streams[@]}" --noise "$noise" --mix sounds --held-out-of "$split" \
      --per-dir 3 --stream-minutes 20 --seed 3 --out "$runs/$name.sounds.json" > "$runs/$name.sounds.txt" 2> "$runs/$name.sounds.log" || echo "bench failed: $runs/$name.sounds.log"
  fi
}

# The two-branch decision (docs/detection.md, "Two branches"): SPEECH_MODEL for speech,
# SCREAM_RUN's scream class as the scream branch (GATE true: the speech danger weighed by the
# scream model's "not a sound", detect.screams.gate_speech). Both branches' settings are tuned
# together by the written rule on SCREAM_RUN's validation streams (bench --sweep-branch pair:
# every pair on the two branches' own fronts), then checked on its held-out home and sound
# streams (the home streams' pair front is the hindsight front of rule 1).
measure_pair() { # NAME SPEECH_MODEL SCREAM_RUN GATE [TUNE_ARG...] (e.g. --sweep-cooldown 10)
  local name=$1 speech=$2 scream=$3 gate=$4 cfg="$runs/$1.config.yaml"
  local tune_args=("${@:5}")
  pair_config "$cfg" "$scream" "$gate"
  if [ ! -s "$runs/$name.tuned.yaml" ]; then
    echo "$(date -u +%FT%TZ) tune  $name"
    "${ew[@]}" bench --no-pin --model "$speech" --config "$cfg" "${train_streams[@]}" --noise "$noise" --mix home --validation-of "$scream" \
      --per-dir 6 --stream-minutes 20 --seed 1 --sweep --sweep-branch pair "${tune_args[@]}" --write-config "$runs/$name.tuned.part" --out "$runs/$name.tune.json" > "$runs/$name.tune.txt" 2> "$runs/$name.tune.log" || echo "tune failed: $runs/$name.tune.log"
    merge_detect "$cfg" "$runs/$name.tuned.part" "$runs/$name.tuned.yaml"
  fi
  check_pair "$name" "$speech" "$scream"
}

# The held-out checks of a tuned pair (RUNS/NAME.tuned.yaml): home streams with the pair's front,
# and sound streams; seeds 2 and 3, or others as RUNS/NAME.TAG.{home,sounds}.* (new streams of the
# same held-out corpora).
check_pair() { # NAME SPEECH_MODEL SCREAM_RUN [HOME_SEED SOUNDS_SEED TAG]
  local out="$runs/$1${6:+.$6}"
  held_out_checks "$1" "$2" "$3" "$out.home" "$out.sounds" "${4:-2}" "${5:-3}" 6 3
}

# The held-out home streams (with the pair's front) and sound streams of RUNS/NAME.tuned.yaml:
# HOME_N and SOUND_N streams of 20 min, written to HOME_OUT.* and SOUNDS_OUT.*; a sweep on the
# sound streams too when SOUND_N is more than the usual 3.
held_out_checks() { # NAME SPEECH_MODEL SCREAM_RUN HOME_OUT SOUNDS_OUT HOME_SEED SOUNDS_SEED HOME_N SOUND_N
  local cfg="$runs/$1.tuned.yaml" sweep=()
  [ "$9" -gt 3 ] && sweep=(--sweep --sweep-branch pair)
  if [ ! -s "$4.json" ]; then
    echo "$(date -u +%FT%TZ) home streams $1 (seed $6, $8 streams)"
    "${ew[@]}" bench --no-pin --model "$2" --config "$cfg" "${test_streams[@]}" --noise "$noise" --mix home --held-out-of "$3" \
      --per-dir "$8" --stream-minutes 20 --seed "$6" --sweep --sweep-branch pair --out "$4.json" > "$4.txt" 2> "$4.log" || echo "bench failed: $4.log"
  fi
  if [ ! -s "$5.json" ]; then
    echo "$(date -u +%FT%TZ) sound streams $1 (seed $7, $9 streams)"
    "${ew[@]}" bench --no-pin --model "$2" --config "$cfg" "${test_streams[@]}" --noise "$noise" --mix sounds --held-out-of "$3" \
      --per-dir "$9" --stream-minutes 20 --seed "$7" "${sweep[@]}" --out "$5.json" > "$5.txt" 2> "$5.log" || echo "bench failed: $5.log"
  fi
}

# measure_pair with the settings chosen on the two tuning folds instead of the validation streams
# (docs/detection.md, "Session 14"): FOLD_A and FOLD_B are SCREAM_RUN's recipe trained without
# the folds' corpora (train_fold); each fold's 6 home streams × 20 min (seed 1) are built from the
# corpora its model left out — never a recording SCREAM_RUN holds out — scored by SPEECH_MODEL
# and that fold's model, and the 4 hours are swept together by the written rule (cooldown 10 s).
measure_pair_folds() { # NAME SPEECH_MODEL SCREAM_RUN FOLD_A FOLD_B [MIX (home, or home+sounds)]
  local name=$1 speech=$2 scream=$3 cfg="$runs/$1.config.yaml" mix=${6:-home}
  pair_config "$cfg" "$scream"
  if [ ! -s "$runs/$name.tuned.yaml" ]; then
    echo "$(date -u +%FT%TZ) tune on folds $name"
    "${ew[@]}" bench --no-pin --model "$speech" --config "$cfg" "${train_streams[@]}" --noise "$noise" --mix "$mix" --fold "$4" --fold "$5" --except-held-out-of "$scream" \
      --per-dir 6 --stream-minutes 20 --seed 1 --sweep --sweep-branch pair --sweep-cooldown 10 --write-config "$runs/$name.tuned.part" --out "$runs/$name.tune.json" > "$runs/$name.tune.txt" 2> "$runs/$name.tune.log" || { echo "tune failed: $runs/$name.tune.log"; return; }
    merge_detect "$cfg" "$runs/$name.tuned.part" "$runs/$name.tuned.yaml"
  fi
  check_pair "$name" "$speech" "$scream"
}

# A pair's front on the held-out sound streams (seed SEED): which scream settings of each pair
# trade false alerts for screams among non-verbal sounds (rule 2 reads one setting only).
sounds_front() { # NAME SPEECH_MODEL SCREAM_RUN SEED  (config: RUNS/NAME.tuned.yaml)
  local out="$runs/$1.sounds-front-s$4"
  if [ ! -s "$out.json" ]; then
    echo "$(date -u +%FT%TZ) sound-stream front $1 seed $4"
    "${ew[@]}" bench --no-pin --model "$2" --config "$runs/$1.tuned.yaml" "${test_streams[@]}" --noise "$noise" --mix sounds --held-out-of "$3" \
      --per-dir 3 --stream-minutes 20 --seed "$4" --sweep --sweep-branch pair --out "$out.json" > "$out.txt" 2> "$out.log" || echo "bench failed: $out.log"
  fi
}

# A pair's fronts on three times the held-out audio: 18 home streams of seed 2 (6 h; the first 6
# are the usual 2 h, streams are seeded SEED × 1000 + k) and 9 sound streams of seed 3 (3 h) →
# RUNS/NAME.home6h.*, RUNS/NAME.sounds3h.*; with other seeds (procedure 3's check on streams never
# used before: 6 and 7) → RUNS/NAME.home6h-sHOME_SEED.*, RUNS/NAME.sounds3h-sSOUNDS_SEED.*.
long_fronts() { # NAME SPEECH_MODEL SCREAM_RUN [HOME_SEED SOUNDS_SEED]  (config: RUNS/NAME.tuned.yaml)
  local home="$runs/$1.home6h" sounds="$runs/$1.sounds3h"
  if [ -n "${4:-}" ]; then home+="-s$4"; sounds+="-s$5"; fi
  held_out_checks "$1" "$2" "$3" "$home" "$sounds" "${4:-2}" "${5:-3}" 18 9
}

# One branch's settings chosen by the written rule (cooldown held at 10 s) on PER_DIR streams of MIX
# (seed 1) selected by STREAM_ARGS (--model, --validation-of or --fold …), written over BASE as OUT.
tune_branch() { # BASE OUT TAG MIX PER_DIR BRANCH STREAM_ARGS...  (TAG.{json,txt,log,part})
  local base=$1 out=$2 tag=$3 mix=$4 n=$5 branch=$6
  shift 6
  [ -s "$out" ] && return 0
  echo "$(date -u +%FT%TZ) tune the $branch branch on $mix streams → $out"
  "${ew[@]}" bench --no-pin --config "$base" "${train_streams[@]}" --noise "$noise" --mix "$mix" "$@" \
    --per-dir "$n" --stream-minutes 20 --seed 1 --sweep --sweep-branch "$branch" --sweep-cooldown 10 \
    --write-config "$tag.part" --out "$tag.json" > "$tag.txt" 2> "$tag.log" || { echo "tune failed: $tag.log"; return 1; }
  merge_detect "$base" "$tag.part" "$out"
}

# BASE.yaml's detect section with PART.yaml's detect settings over it (a sweep writes only what it
# chose; the scream branch's model_dir and gate_speech stay).
merge_detect() { # BASE PART OUT
  node -e '
    const YAML = require("yaml"); const fs = require("fs");
    const [base, part] = process.argv.slice(1, 3).map((f) => YAML.parse(fs.readFileSync(f, "utf8")) ?? {});
    const d = { ...(base.detect ?? {}), ...part.detect };
    d.screams = { ...(base.detect?.screams ?? {}), ...(part.detect.screams ?? {}) };
    fs.writeFileSync(process.argv[3], YAML.stringify({ ...base, detect: d }));
  ' "$1" "$2" "$3"
}

adapt5=$'adaptation:\n  enabled: true\n  warmup_min: 5\n  half_life_h: 1\n  max_weight: 0.5'

# The shipped speech model's recipe (CREMA-D only, six emotions, two augmented copies, per-speaker
# normalisation) with ARGS added, as RUNS/ship/NAME.
train_cremad() { # NAME ARGS...
  local name=ship/$1; shift
  if [ ! -f "$runs/$name/run.json" ]; then
    echo "$(date -u +%FT%TZ) train $name"
    mkdir -p "$runs/ship"
    "${ew[@]}" train --data "$corpora/crema-d" --augment 2 --noise "$noise" --norm speaker "$@" \
      --out "$runs/$name" > "$runs/$name.log" 2>&1 || echo "FAIL $name"
  fi
}

train() { # NAME ARGS...
  local name=$1; shift
  if [ ! -f "$runs/$name/run.json" ]; then
    echo "$(date -u +%FT%TZ) train $name"
    if ! "${ew[@]}" train "$@" "${all_data[@]}" "${held[@]}" --noise "$noise" --augment 1 --seed 1 --out "$runs/$name" > "$runs/$name.log" 2>&1; then
      echo "$(date -u +%FT%TZ) FAIL  $name (see $runs/$name.log)"; return
    fi
  fi
  measure "$name" "$runs/$name"
}

# Tuning folds (docs/detection.md, "Session 14"): the training corpora cut in two, each fold's
# model trained without its half (and without LOCO-3's held-out corpora, as always), so that the
# pair's settings are chosen on corpora its scream branch never heard — as a unit meets a home.
# CREMA-D stays in both (the speech branch trained on it; fold streams never hold it). The
# screams' training half is cut in two slices of the same seeded order (splits.ts).
fold_a=(nemo baved kitchen20 snoring screams:0.5-0.75)
fold_b=(ased emospeech donateacry urbansound screams:0.75-1)
train_fold() { # NAME FOLD(a|b) ARGS...  → RUNS/loco3f-FOLD-NAME (no measuring: bench --fold tunes on it)
  local fold=$2 name="loco3f-$2-$1"; shift 2
  local extra=() c
  if [ "$fold" = a ]; then for c in "${fold_a[@]}"; do extra+=(--test-corpus "$c"); done
  else for c in "${fold_b[@]}"; do extra+=(--test-corpus "$c"); done; fi
  if [ ! -f "$runs/$name/run.json" ]; then
    echo "$(date -u +%FT%TZ) train $name"
    "${ew[@]}" train "$@" "${all_data[@]}" "${held[@]}" "${extra[@]}" --noise "$noise" --augment 1 --seed 1 --out "$runs/$name" > "$runs/$name.log" 2>&1 \
      || echo "$(date -u +%FT%TZ) FAIL  $name (see $runs/$name.log)"
  fi
}

for g in "${groups[@]}"; do
  case $g in
    floor) # the two reference rows every later model must beat
      train loco3-lr-danger --arch lr --classes danger --epochs 8 --batch 128 --lr 0.01
      # The shipped model (trained on CREMA-D only) on the same held-out rows: eval and bench
      # read the split from the floor bundle's record.
      measure shipped "$(previous_model earwitness-gru)" "$runs/loco3-lr-danger" ;;
    candidates) "$0" "$corpora" "$runs" pgru pegru gru ;;
    pgru) train loco3-pgru-home --arch pgru --classes home --epochs 12 ;;
    # The enhanced cell costs about twice the time per batch: 8 epochs in about the time of 12.
    pegru) train loco3-pegru-home --arch pegru --classes home --epochs 8 ;;
    gru) train loco3-gru-home --arch gru --classes home --epochs 12 ;;
    # After the fix that normalises sounds and screams with the training statistics, not their own.
    pgru2) train loco3-pgru2-home --arch pgru --classes home --epochs 10 ;;
    lr2) train loco3-lr2-danger --arch lr --classes danger --epochs 8 --batch 128 --lr 0.01 ;;
    # Candidates that can ship: the emotion sensor needs the six emotions, so home classes
    # (danger = angry + fear + scream); the floor's recipe with them, and longer.
    lrh) train loco3-lr-home --arch lr --classes home --epochs 8 --batch 128 --lr 0.01 ;;
    lrh24) train loco3-lr24-home --arch lr --classes home --epochs 24 --batch 128 --lr 0.01 ;;
    pegru2) train loco3-pegru2-home --arch pegru --classes home --epochs 8 ;;
    egru) train loco3-egru-home --arch egru --classes home --epochs 12 ;;
    # Danger first (issue 15 §1): the gru group's recipe with a danger head trained jointly with
    # the classes (src/model/danger-head.ts; epoch chosen by validation danger AUC).
    gru-dh) train loco3-gru-dh-home --arch gru --classes home --epochs 12 --danger-head ;;
    # … and hard negatives: a fifth of each epoch's draws are the non-danger training windows the
    # model scored ≥ 0.5 after the epoch before (src/train/hard-negatives.ts).
    gru-dh-hn) train loco3-gru-dh-hn-home --arch gru --classes home --epochs 12 --danger-head --hard-negatives 0.2 ;;
    pair-gate-dh-hn)
      measure_pair loco3-pair-gate-gru-dh-hn-lr24 "$runs/loco3-gru-dh-hn-home" "$runs/loco3-lr24-home" true ;;
    # Prosody features (issue 15 §2, src/features/pitch.ts): the lrh24 and gru-dh recipes with --pitch.
    lrh24p) train loco3-lr24p-home --arch lr --classes home --epochs 24 --batch 128 --lr 0.01 --pitch ;;
    gru-dh-pitch) train loco3-gru-dh-pitch-home --arch gru --classes home --epochs 12 --danger-head --pitch ;;
    pair-gate-dhp-lr24p) # both with prosody features (one front end: a pair shares its features)
      measure_pair loco3-pair-gate-gru-dh-pitch-lr24p "$runs/loco3-gru-dh-pitch-home" "$runs/loco3-lr24p-home" true ;;
    # The same models with the running normalisation on (adaptation warming up in 5 minutes, a
    # fresh unit per stream), tuned with it on: does speaker-relative pitch need it?
    adapt-dh) measure loco3-gru-dh-home-adapt5 "$runs/loco3-gru-dh-home" "" "$adapt5" ;;
    adapt-dh-pitch) measure loco3-gru-dh-pitch-home-adapt5 "$runs/loco3-gru-dh-pitch-home" "" "$adapt5" ;;
    # The shipped speech model's recipe (CREMA-D only, six emotions) with the danger head, as the
    # speech branch of the shipped pair: the best speech branch so far, with danger first.
    ship-dh)
      train_cremad gru-cremad-dh --arch gru --epochs 15 --seed 1 --danger-head ;;
    pair-gate-ship-dh) # run ship-dh first
      measure_pair loco3-pair-gate-gru-cremad-dh-lr24 "$runs/ship/gru-cremad-dh" "$runs/loco3-lr24-home" true ;;
    # Tuned with the cooldown held at the shipped 10 s (session 13): the rule's choice for the
    # danger-head pair had a 2-minute cooldown, which bought its low false-alert rate with screams
    # missed after each alert. The shipped pair's run beside it, under the same constraint.
    pair-gate-ship-dh-cd10) # run ship-dh first
      measure_pair loco3-pair-gate-gru-cremad-dh-lr24-cd10 "$runs/ship/gru-cremad-dh" "$runs/loco3-lr24-home" true --sweep-cooldown 10 ;;
    pair-gate-cd10)
      measure_pair loco3-pair-gate-gru-lr24-cd10 "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" true --sweep-cooldown 10 ;;
    # The shipped recipe with the danger head and hard negatives (capped at 2 draws a window).
    ship-dh-hn)
      train_cremad gru-cremad-dh-hn --arch gru --epochs 15 --seed 1 --danger-head --hard-negatives 0.2 ;;
    pair-gate-ship-dh-hn-cd10) # run ship-dh-hn first
      measure_pair loco3-pair-gate-gru-cremad-dh-hn-lr24-cd10 "$runs/ship/gru-cremad-dh-hn" "$runs/loco3-lr24-home" true --sweep-cooldown 10 ;;
    # The enhanced GRU of the same recipe (to ship beside it, issue 15 §3).
    ship-edh)
      train_cremad egru-cremad-dh --arch egru --epochs 15 --seed 1 --danger-head ;;
    # The speech branch on every training speech corpus (no sounds: the gate hears those), with
    # the danger head, validated on the scream model's validation speakers (train --validation-of)
    # so the pair is tuned on voices neither branch trained on.
    speech-dh)
      name=loco3-gru-speech-dh
      if [ ! -f "$runs/$name/run.json" ]; then
        echo "$(date -u +%FT%TZ) train $name"
        d=(); for c in crema-d nemo ased baved emospeech ravdess casia emodb; do d+=(--data "$corpora/$c"); done
        "${ew[@]}" train --arch gru --epochs 12 "${d[@]}" --test-corpus ravdess --test-corpus casia --test-corpus emodb --validation-of "$runs/loco3-lr24-home" \
          --danger-head --noise "$noise" --augment 1 --norm speaker --seed 1 --out "$runs/$name" > "$runs/$name.log" 2>&1 || echo "FAIL $name"
      fi ;;
    # The small CNN with statistics pooling (cnnp), home classes, every corpus, the danger head:
    # alone, and as the scream branch beside the shipped speech model.
    cnnp-dh) train loco3-cnnp-dh-home --arch cnnp --classes home --epochs 12 --danger-head
      measure loco3-cnnp-dh-home "$runs/loco3-cnnp-dh-home" ;;
    pair-gate-cnnp-cd10) # run cnnp-dh first
      measure_pair loco3-pair-gate-gru-cnnp-cd10 "$(previous_model earwitness-gru)" "$runs/loco3-cnnp-dh-home" true --sweep-cooldown 10 ;;
    pair-gate-dh-cnnp-cd10) # the CREMA-D danger-head GRU for speech, cnnp for screams and the gate (run ship-dh, cnnp-dh first)
      measure_pair loco3-pair-gate-gru-cremad-dh-cnnp-cd10 "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-home" true --sweep-cooldown 10 ;;
    cnnp-dh-hn) # cnnp with hard negatives (a fifth of the draws, each mined window at most twice an epoch)
      train loco3-cnnp-dh-hn-home --arch cnnp --classes home --epochs 12 --danger-head --hard-negatives 0.2 ;;
    pair-gate-dh-cnnp-hn-cd10) # run ship-dh, cnnp-dh-hn first
      measure_pair loco3-pair-gate-gru-cremad-dh-cnnp-hn-cd10 "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn-home" true --sweep-cooldown 10 ;;
    # The enhanced GRU's fair chance (issue 15 §3): 128 units, 25 epochs, the CREMA-D recipe with the head.
    ship-edh128)
      train_cremad egru128-cremad-dh --arch egru --units 128 --epochs 25 --seed 1 --danger-head ;;
    pair-gate-edh128-cd10) # run ship-edh128 first
      measure_pair loco3-pair-gate-egru128-cremad-dh-lr24-cd10 "$runs/ship/egru128-cremad-dh" "$runs/loco3-lr24-home" true --sweep-cooldown 10 ;;
    pair-gate-edh128-cnnp-cd10) # run ship-edh128, cnnp-dh first
      measure_pair loco3-pair-gate-egru128-cremad-dh-cnnp-cd10 "$runs/ship/egru128-cremad-dh" "$runs/loco3-cnnp-dh-home" true --sweep-cooldown 10 ;;
    ship-dh-s2) # the CREMA-D danger-head GRU with seed 2 (another speaker split and initialisation)
      train_cremad gru-cremad-dh-s2 --arch gru --epochs 15 --seed 2 --danger-head ;;
    pair-gate-dh2-cnnp-hn-cd10) # seed 2 of the CREMA-D danger-head GRU beside cnnp-hn (run ship-dh-s2, cnnp-dh-hn first)
      measure_pair loco3-pair-gate-gru-cremad-dh-s2-cnnp-hn-cd10 "$runs/ship/gru-cremad-dh-s2" "$runs/loco3-cnnp-dh-hn-home" true --sweep-cooldown 10 ;;
    pair-gate-edh128-cnnp-hn-cd10) # run ship-edh128, cnnp-dh-hn first
      measure_pair loco3-pair-gate-egru128-cremad-dh-cnnp-hn-cd10 "$runs/ship/egru128-cremad-dh" "$runs/loco3-cnnp-dh-hn-home" true --sweep-cooldown 10 ;;
    cnnp-dh-hn10) # cnnp with half the hard negatives (a tenth of the draws): more of the lr model's screams kept?
      train loco3-cnnp-dh-hn10-home --arch cnnp --classes home --epochs 12 --danger-head --hard-negatives 0.1 ;;
    pair-gate-dh-cnnp-hn10-cd10) # run ship-dh, cnnp-dh-hn10 first
      measure_pair loco3-pair-gate-gru-cremad-dh-cnnp-hn10-cd10 "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn10-home" true --sweep-cooldown 10 ;;
    pair-gate-speech-dh-cd10) # run speech-dh first
      measure_pair loco3-pair-gate-gru-speech-dh-lr24-cd10 "$runs/loco3-gru-speech-dh" "$runs/loco3-lr24-home" true --sweep-cooldown 10 ;;
    pair-gate-dh) # the danger-head GRU for speech beside the shipped scream model (run gru-dh first)
      measure_pair loco3-pair-gate-gru-dh-lr24 "$runs/loco3-gru-dh-home" "$runs/loco3-lr24-home" true ;;
    pair) # the shipped speech model with the lr home model's scream class (run lrh24 first)
      measure_pair loco3-pair-gru-lr24 "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" false ;;
    pair-gate) # the same, the speech danger weighed by the home model's "not a sound"
      measure_pair loco3-pair-gate-gru-lr24 "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" true ;;
    pair-gate-egru) # the enhanced GRU of the shipped GRU's recipe (models/earwitness-egru) for speech
      measure_pair loco3-pair-gate-egru-lr24 "$(previous_model earwitness-egru)" "$runs/loco3-lr24-home" true ;;
    # Ablation: which of the every-corpus additions costs the plain GRU the unseen speech?
    gru-cs) # CREMA-D speech + every sound corpus + the screams (no other speech corpus)
      name=loco3-gru-cremasounds-home
      if [ ! -f "$runs/$name/run.json" ]; then
        echo "$(date -u +%FT%TZ) train $name"
        d=(); for c in crema-d donateacry kitchen20 urbansound snoring screams "${test_corpora[@]}"; do d+=(--data "$corpora/$c"); done
        "${ew[@]}" train --arch gru --classes home --epochs 12 "${d[@]}" "${held[@]}" --noise "$noise" --augment 1 --seed 1 --out "$runs/$name" > "$runs/$name.log" 2>&1 || echo "FAIL $name"
      fi
      measure "$name" "$runs/$name" ;;
    fold-cnnp-dh-hn) # the two tuning folds of cnnp-dh-hn's recipe
      for f in a b; do train_fold cnnp-dh-hn-home "$f" --arch cnnp --classes home --epochs 12 --danger-head --hard-negatives 0.2; done ;;
    fold-cnnp-dh-hn10)
      for f in a b; do train_fold cnnp-dh-hn10-home "$f" --arch cnnp --classes home --epochs 12 --danger-head --hard-negatives 0.1; done ;;
    fold-pair-dh-cnnp-hn10) # run ship-dh, cnnp-dh-hn10, fold-cnnp-dh-hn10 first
      measure_pair_folds loco3-fold-pair-gru-cremad-dh-cnnp-hn10 "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn10-home" \
        "$runs/loco3f-a-cnnp-dh-hn10-home" "$runs/loco3f-b-cnnp-dh-hn10-home" ;;
    fold2-pair-dh-cnnp-hn10) # the same, tuned on the folds' home and sound streams (6 + 3 per fold)
      measure_pair_folds loco3-fold2-pair-gru-cremad-dh-cnnp-hn10 "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn10-home" \
        "$runs/loco3f-a-cnnp-dh-hn10-home" "$runs/loco3f-b-cnnp-dh-hn10-home" home+sounds ;;
    fresh-fold2-pair-dh-cnnp-hn10) # its check on new held-out streams (home seed 4, sounds seed 5)
      check_pair loco3-fold2-pair-gru-cremad-dh-cnnp-hn10 "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn10-home" 4 5 fresh ;;
    fresh-shipped) # the shipped pair at its shipped defaults on the same new streams
      shipped_pair_config
      check_pair loco3-shipped-pair "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" 4 5 fresh ;;
    sounds-front) # the shipped pair and the hn 0.1 candidate on the sound streams of seeds 3 and 5, swept
      shipped_pair_config
      for seed in 3 5; do
        sounds_front loco3-shipped-pair "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" "$seed"
        sounds_front loco3-fold2-pair-gru-cremad-dh-cnnp-hn10 "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn10-home" "$seed"
      done ;;
    long-shipped) # (writes the shipped pair's config as sounds-front does)
      shipped_pair_config
      long_fronts loco3-shipped-pair "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" ;;
    long-dh-cnnp-hn10) long_fronts loco3-fold2-pair-gru-cremad-dh-cnnp-hn10 "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn10-home" ;;
    long-dh-cnnp-hn) long_fronts loco3-fold-pair-gru-cremad-dh-cnnp-hn "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn-home" ;;
    long-dh-lr24) long_fronts loco3-pair-gate-gru-cremad-dh-lr24-cd10 "$runs/ship/gru-cremad-dh" "$runs/loco3-lr24-home" ;;
    fold-screams-dh-cnnp-hn) # exploratory: the scream setting chosen on the folds' sound streams alone
      # (most screams within 0.5 false alerts / h there), beside procedure 1's speech setting; then
      # the 6 + 3 held-out hours. Run fold-pair-dh-cnnp-hn first.
      name=loco3-foldsnd-pair-gru-cremad-dh-cnnp-hn
      base="$runs/loco3-fold-pair-gru-cremad-dh-cnnp-hn.tuned.yaml"
      tune_branch "$base" "$runs/$name.tuned.yaml" "$runs/$name.tune" sounds 3 screams --model "$runs/ship/gru-cremad-dh" \
        --fold "$runs/loco3f-a-cnnp-dh-hn-home" --fold "$runs/loco3f-b-cnnp-dh-hn-home" --except-held-out-of "$runs/loco3-cnnp-dh-hn-home" || continue
      long_fronts "$name" "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn-home" ;;
    kinds-dh-cnnp-hn) # procedure 3 (docs/detection.md "Session 14"): a budget per kind, on the
      # scream run's validation streams — the scream setting among sounds (most screams within
      # 0.5 / h), then the speech setting at home beside it; checked on held-out streams never
      # used before (home seed 6, 18 streams; sounds seed 7, 9 streams), the shipped pair too.
      name=loco3-kinds-pair-gru-cremad-dh-cnnp-hn scream="$runs/loco3-cnnp-dh-hn-home" speech="$runs/ship/gru-cremad-dh"
      pair_config "$runs/$name.config.yaml" "$scream"
      tune_branch "$runs/$name.config.yaml" "$runs/$name.screams.yaml" "$runs/$name.tune-screams" sounds 3 screams \
        --model "$speech" --validation-of "$scream" || continue
      tune_branch "$runs/$name.screams.yaml" "$runs/$name.tuned.yaml" "$runs/$name.tune" home 6 speech \
        --model "$speech" --validation-of "$scream" || continue
      long_fronts "$name" "$speech" "$scream" 6 7 ;;
    kinds-shipped) # the shipped pair on procedure 3's new held-out streams
      shipped_pair_config
      long_fronts loco3-shipped-pair "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" 6 7 ;;
    kinds-seed8) # procedure 3's comparison on a third draw (home seed 8, sounds seed 9), both pairs
      long_fronts loco3-kinds-pair-gru-cremad-dh-cnnp-hn "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn-home" 8 9 ;;
    kinds-shipped-seed8)
      shipped_pair_config
      long_fronts loco3-shipped-pair "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" 8 9 ;;
    margin-dh-cnnp-hn) # procedure 4 (docs/detection.md "Session 15"): procedure 3 with the scream
      # setting held to 0.5 / h with its thresholds 0.2 lower (--sweep-margin 0.2); the speech
      # setting beside it as in procedure 3; checked on two draws never used before (home seeds
      # 10 and 12, 18 streams; sounds seeds 11 and 13, 9 streams), the shipped pair too.
      name=loco3-margin-pair-gru-cremad-dh-cnnp-hn scream="$runs/loco3-cnnp-dh-hn-home" speech="$runs/ship/gru-cremad-dh"
      pair_config "$runs/$name.config.yaml" "$scream"
      tune_branch "$runs/$name.config.yaml" "$runs/$name.screams.yaml" "$runs/$name.tune-screams" sounds 3 screams \
        --model "$speech" --validation-of "$scream" --sweep-margin 0.2 || continue
      tune_branch "$runs/$name.screams.yaml" "$runs/$name.tuned.yaml" "$runs/$name.tune" home 6 speech \
        --model "$speech" --validation-of "$scream" || continue
      long_fronts "$name" "$speech" "$scream" 10 11
      long_fronts "$name" "$speech" "$scream" 12 13 ;;
    margin-shipped) # the shipped pair on procedure 4's two new draws
      shipped_pair_config
      long_fronts loco3-shipped-pair "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" 10 11
      long_fronts loco3-shipped-pair "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" 12 13 ;;
    clean-dh-cnnp-hn) # procedure 5 (docs/detection.md "Session 15"): procedure 4's scream setting
      # (margin 0.2 on the validation sounds); the speech setting beside it on 18 validation home
      # streams (6 h) without the clips the speech model trained on; checked on home seeds 12 and
      # 14 (18 streams) and sounds seeds 13 and 15 (9 streams), the shipped pair too.
      name=loco3-clean-pair-gru-cremad-dh-cnnp-hn scream="$runs/loco3-cnnp-dh-hn-home" speech="$runs/ship/gru-cremad-dh"
      [ -s "$runs/loco3-margin-pair-gru-cremad-dh-cnnp-hn.screams.yaml" ] || { echo "run margin-dh-cnnp-hn first"; continue; }
      tune_branch "$runs/loco3-margin-pair-gru-cremad-dh-cnnp-hn.screams.yaml" "$runs/$name.tuned.yaml" "$runs/$name.tune" home 18 speech \
        --model "$speech" --validation-of "$scream" || continue
      long_fronts "$name" "$speech" "$scream" 12 13
      long_fronts "$name" "$speech" "$scream" 14 15 ;;
    clean-shipped) # the shipped pair on procedure 5's second draw (its first, seeds 12 and 13, is margin-shipped's)
      shipped_pair_config
      long_fronts loco3-shipped-pair "$(previous_model earwitness-gru)" "$runs/loco3-lr24-home" 14 15 ;;
    accept-dh-cnnp-hn) # procedure 6 (docs/detection.md "Session 15"): procedure 5 with the speech
      # setting chosen only among those that raise one alert on demo/demo.wav and none on
      # demo/calm.wav (what test/integration/daemon/shipped-model.test.ts asks of the defaults);
      # checked on procedure 5's draws: home seed 12 / sounds 13 here, 14 / 15 in accept-dh-cnnp-hn-b.
      name=loco3-accept-pair-gru-cremad-dh-cnnp-hn scream="$runs/loco3-cnnp-dh-hn-home" speech="$runs/ship/gru-cremad-dh"
      [ -s "$runs/loco3-margin-pair-gru-cremad-dh-cnnp-hn.screams.yaml" ] || { echo "run margin-dh-cnnp-hn first"; continue; }
      tune_branch "$runs/loco3-margin-pair-gru-cremad-dh-cnnp-hn.screams.yaml" "$runs/$name.tuned.yaml" "$runs/$name.tune" home 18 speech \
        --model "$speech" --validation-of "$scream" --sweep-acceptance "$here/demo/demo.wav=1" --sweep-acceptance "$here/demo/calm.wav=0" || continue
      long_fronts "$name" "$speech" "$scream" 12 13 ;;
    accept-dh-cnnp-hn-b) # procedure 6's second draw (run accept-dh-cnnp-hn's tuning first)
      name=loco3-accept-pair-gru-cremad-dh-cnnp-hn
      [ -s "$runs/$name.tuned.yaml" ] || { echo "run accept-dh-cnnp-hn first"; continue; }
      long_fronts "$name" "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn-home" 14 15 ;;
    fold-pair-dh-cnnp-hn) # run ship-dh, cnnp-dh-hn, fold-cnnp-dh-hn first
      measure_pair_folds loco3-fold-pair-gru-cremad-dh-cnnp-hn "$runs/ship/gru-cremad-dh" "$runs/loco3-cnnp-dh-hn-home" \
        "$runs/loco3f-a-cnnp-dh-hn-home" "$runs/loco3f-b-cnnp-dh-hn-home" ;;
    loco-*)
      arch=${g#loco-}
      for s in crema-d ravdess emodb nemo ased casia baved emospeech; do
        name="loco-$arch-$s"
        data=()
        for c in crema-d ravdess emodb nemo ased casia baved emospeech donateacry kitchen20 sased esc10 urbansound snoring screams; do data+=(--data "$corpora/$c"); done
        if [ ! -f "$runs/$name/run.json" ]; then
          echo "$(date -u +%FT%TZ) train $name"
          extra=()
          [ "$arch" = lr ] && extra=(--batch 128 --lr 0.01 --epochs 8) || extra=(--epochs 10)
          "${ew[@]}" train --arch "$arch" --classes home "${data[@]}" --test-corpus "$s" --test-corpus screams:0.5 \
            --noise "$noise" --augment 1 --seed 1 "${extra[@]}" --out "$runs/$name" > "$runs/$name.log" 2>&1 || { echo "FAIL $name"; continue; }
        fi
        if [ ! -s "$runs/$name.json" ]; then
          "${ew[@]}" eval --model "$runs/$name" "${data[@]}" --held-out --json > "$runs/$name.json" 2> "$runs/$name.eval.log" || echo "eval failed: $name"
        fi
      done ;;
    *) echo "unknown group $g"; exit 64 ;;
  esac
done
