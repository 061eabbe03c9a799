# shellcheck shell=bash
# Tiny stage configs in the layout of configs/glue, for the Slurm tests (sourced):
#
#   tiny_configs ROOT DIR SHARD_SIZE STUDENT_EPOCHS CHECKPOINT_EVERY TASK...
#
# writes DIR/tokenize.toml (64 tokens, SHARD_SIZE examples per shard), DIR/cache.toml (float32)
# and per TASK a from-scratch 2-layer, 32-wide teacher (2 epochs) and a 1-layer PKD-Skip student
# (STUDENT_EPOCHS, a checkpoint every CHECKPOINT_EVERY steps), with paths relative to the work
# directory (tokens/TASK, teacher/TASK, features/TASK/train, students/TASK/...).
#
#   tiny_sweep_toml ROOT NAME WORK_DIR GLUE_DIR CONFIGS TASKS NODES TASKS_PER_NODE [EXTRA_TOML]
#
# prints a [sweep] over those configs (TASKS a TOML list: '["SST-2"]'): a beta grid of 0 and 100
# plus a fine-tuning baseline; tokenize, teacher and cache on NODES nodes (teacher and cache with
# TASKS_PER_NODE ranks each), every distillation element on 1 node x 2 ranks; EXTRA_TOML goes
# into [sweep].
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

tiny_sweep_toml() {
  local root=$1
  shift
  cat << TOML
[sweep]
name = "$1"
tasks = $5
work_dir = "$2"
glue_dir = "$3"
vocab = "$root/data/vocab/vocab.txt"
configs = "$4"
grid = ["distill.loss.beta=0,100"]
baseline = ["optimizer.learning_rate=2e-3"]
${8:-}
[sweep.slurm]
signal_seconds = 30
[sweep.slurm.tokenize]
nodes = $6
time = "00:10:00"
[sweep.slurm.teacher]
nodes = $6
ntasks_per_node = $7
time = "00:10:00"
[sweep.slurm.cache]
nodes = $6
ntasks_per_node = $7
time = "00:10:00"
[sweep.slurm.distill]
ntasks_per_node = 2
time = "00:10:00"
[sweep.slurm.report]
time = "00:10:00"
TOML
}
