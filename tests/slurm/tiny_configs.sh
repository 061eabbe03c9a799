# shellcheck shell=bash
# Tiny stage configs in the layout of configs/glue, for the Slurm tests (sourced):
#
#   tiny_configs ROOT DIR SHARD_SIZE STUDENT_EPOCHS CHECKPOINT_EVERY TASK...
#
# writes DIR/tokenize.toml (64 tokens, SHARD_SIZE examples per shard), DIR/cache.toml (float32)
# and per TASK a from-scratch 2-layer, 32-wide teacher (2 epochs) and a 1-layer PKD-Skip student
# (STUDENT_EPOCHS, a checkpoint every CHECKPOINT_EVERY steps), with paths relative to the work
# directory (tokens/TASK, teacher/TASK, features/TASK/train, students/TASK/...).
tiny_configs() {
  local root=$1 dir=$2 shard_size=$3 epochs=$4 checkpoint_every=$5 task
  shift 5
  mkdir -p "$dir"
  sed "s/^max_seq_length = .*/max_seq_length = 64\nshard_size = $shard_size/" \
    "$root/configs/glue/tokenize.toml" > "$dir/tokenize.toml"
  sed 's/^dtype = .*/dtype = "float32"/' "$root/configs/glue/cache.toml" > "$dir/cache.toml"
  for task in "$@"; do
    mkdir -p "$dir/$task"
    cat > "$dir/$task/teacher.toml" << TOML
[finetune]
init = "random"
train = "tokens/$task/train"
dev = "tokens/$task/dev"
test = "tokens/$task/test"
output_dir = "teacher/$task"
epochs = 2
batch_size = 16
[finetune.random_init]
hidden_size = 32
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 64
[optimizer]
learning_rate = 1e-3
TOML
    cat > "$dir/$task/student.toml" << TOML
[distill]
teacher = "teacher/$task/model"
features = "features/$task/train"
train = "tokens/$task/train"
dev = "tokens/$task/dev"
test = "tokens/$task/test"
output_dir = "students/$task/default"
student_layers = 1
epochs = $epochs
batch_size = 16
log_every = 5
checkpoint_every = $checkpoint_every
[distill.loss]
layer_map = "skip"
[optimizer]
learning_rate = 1e-3
TOML
  done
}
