#!/usr/bin/env bash
# Rebuilds demo/demo.wav and demo/calm.wav from CREMA-D (ODbL 1.0 / DbCL 1.0; see NOTICE).
# Speaker 1038 is a test speaker of the shipped model (never seen in training); the clips are
# the ones listed in demo/README.md.
#
#   scripts/make-demo.sh ~/corpora/crema-d
set -euo pipefail
src=${1:?usage: make-demo.sh CREMA_D_DIR}/AudioWAV
out=$(cd "$(dirname "$0")/.." && pwd)/demo
calm1=(1038_TSI_NEU_XX 1038_IEO_NEU_XX)
angry=(1038_IWL_ANG_XX 1038_ITS_ANG_XX 1038_DFA_ANG_XX)
calm2=(1038_IWW_NEU_XX 1038_TIE_NEU_XX)
calm_only=(1038_TSI_NEU_XX 1038_IEO_NEU_XX 1038_ITH_NEU_XX 1038_IOM_NEU_XX 1038_IWW_NEU_XX 1038_TIE_NEU_XX)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
join() { # OUT CLIP...
  local dest=$1 i=0 parts=()
  shift
  for c in "$@"; do
    # 0.3 s of silence after each sentence, as between utterances in a room.
    sox "$src/$c.wav" -r 16000 -c 1 -b 16 "$tmp/$i.wav" pad 0 0.3
    parts+=("$tmp/$i.wav")
    i=$((i + 1))
  done
  sox "${parts[@]}" "$dest"
}
join "$out/demo.wav" "${calm1[@]}" "${angry[@]}" "${calm2[@]}"
join "$out/calm.wav" "${calm_only[@]}"
soxi -D "$out/demo.wav" "$out/calm.wav"
