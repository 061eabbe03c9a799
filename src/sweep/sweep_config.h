#pragma once
// [sweep]: a whole GLUE pipeline on Slurm, for one or many tasks — tokenize -> teacher -> cache
// -> one array of distillation runs per task (PKD, vanilla KD and fine-tuned students over their
// grids: sweep/runs.h) -> report — submitted by `pkd sweep` as jobs chained with afterok
// dependencies (configs/glue/sweep.toml: the paper's Table 1 and ablations). Owned by the sweep
// library; no LibTorch.
#include <cstdint>
#include <string>
#include <vector>

namespace pkd::sweep {

// [sweep.slurm.<stage>]: what one stage's job asks of Slurm (passed on the sbatch command line,
// overriding the script's #SBATCH header). GPU and CPU jobs differ only here.
struct StageResources {
  std::int64_t nodes = 1;
  std::int64_t ntasks_per_node = 1;  // ranks per node (one per GPU on GPU nodes)
  std::int64_t cpus_per_task = 1;    // cores per rank = LibTorch intra-op threads
  std::int64_t gpus_per_node = 0;    // 0 = CPU job; > 0 adds --gpus-per-node and device cuda
  std::string time = "04:00:00";     // wall-clock limit, Slurm format
  std::string mem = "";              // e.g. "32G" per node ("" = the partition's default)

  template <class V>
  void visit(V& v) {
    v.field("nodes", nodes, "nodes of the job");
    v.field("ntasks_per_node", ntasks_per_node, "ranks per node (one per GPU on GPU nodes)");
    v.field("cpus_per_task", cpus_per_task, "cores per rank, used as LibTorch intra-op threads");
    v.field("gpus_per_node", gpus_per_node, "GPUs per node; 0 = a CPU job");
    v.field("time", time, "wall-clock limit (Slurm format, e.g. 04:00:00 or 2-00:00:00)");
    v.field("mem", mem, "memory per node, e.g. 32G (\"\" = the partition's default)");
  }
  void validate(const std::string& where) const;
};

// [sweep.slurm]: cluster-wide submission settings.
struct SlurmConfig {
  std::string partition;               // "" = the cluster's default
  std::string account;                 // "" = the user's default
  std::string qos;                     // "" = the default
  std::string launcher = "srun";       // how ranks start inside a job: srun or mpirun
  std::int64_t signal_seconds = 300;   // USR1 this long before the time limit: checkpoint, requeue
  std::int64_t max_parallel = 0;       // array elements running at once (0 = no limit)
  std::int64_t max_array_size = 1001;  // the cluster's MaxArraySize: at most this many runs/task
  std::vector<std::string>
      sbatch_args;  // extra sbatch options for every job, e.g. "--constraint=a100"
  StageResources tokenize, teacher, cache, distill, report;

  template <class V>
  void visit(V& v) {
    v.field("partition", partition, "Slurm partition (\"\" = the cluster's default)");
    v.field("account", account, "Slurm account (\"\" = your default)");
    v.field("qos", qos, "Slurm QOS (\"\" = the default)");
    v.field("launcher", launcher, "how ranks start inside a job: srun (PMIx) or mpirun");
    v.field("signal_seconds", signal_seconds,
            "seconds before the time limit at which jobs get USR1: checkpoint, exit 75, requeue");
    v.field("max_parallel", max_parallel,
            "distillation runs of a task running at once (array %N; 0 = no limit)");
    v.field("max_array_size", max_array_size,
            "the cluster's MaxArraySize (Slurm's default 1001; scontrol show config): a task's "
            "distillation runs must not outnumber it");
    v.field("sbatch_args", sbatch_args, "extra sbatch options for every job");
    v.table("tokenize", tokenize, "resources of the tokenize jobs");
    v.table("teacher", teacher, "resources of the teacher fine-tuning jobs");
    v.table("cache", cache, "resources of the teacher-caching jobs");
    v.table("distill", distill, "resources of each distillation run (array element)");
    v.table("report", report, "resources of the report job");
  }
  void validate() const;
};

struct SweepConfig {
  std::string name = "pkd";            // job-name prefix and the report's title
  std::vector<std::string> tasks;      // GLUE tasks, e.g. ["SST-2", "RTE"]
  std::string work_dir;                // tokens/, teacher/, features/, students/, report/, logs/
  std::string glue_dir = "data/glue";  // GLUE_DIR/<TASK>/train.tsv, ...
  std::string vocab = "data/vocab/vocab.txt";  // WordPiece vocabulary for tokenize
  std::string configs = "configs/glue";  // tokenize.toml, cache.toml, <TASK>/{teacher,student}.toml
  std::string teacher_init;  // pretrained model of the teachers and students ("" = config's)
  std::string teacher;       // existing teachers, {task} replaced ("" = fine-tune them)
  // distill.student_init of every run: "" = teacher_init (the paper: the pretrained BERT's
  // embeddings and first k layers); "teacher" (a warmer start, not the paper's) or "random";
  // both "" = the student configs' own value.
  std::string student_init;
  std::vector<std::string> stages = {"tokenize", "teacher", "cache", "distill", "report"};
  // Axes "key=v1,v2,..." of the runs' groups (sweep/runs.h): common crosses every group.
  std::vector<std::string> common;    // e.g. the student's depth: distill.student_layers=6,3
  std::vector<std::string> grid;      // PKD; [] = one run with the configs' values
  std::vector<std::string> kd;        // vanilla KD (beta = 0); [] = none
  std::vector<std::string> baseline;  // fine-tuned students (alpha = beta = 0); [] = none
  std::vector<std::string> set;       // "key=value" for every distillation run
  SlurmConfig slurm;

  template <class V>
  void visit(V& v) {
    v.field("name", name, "job-name prefix and the report's title");
    v.field("tasks", tasks, "GLUE tasks to run, e.g. [\"SST-2\", \"RTE\"]");
    v.field("work_dir", work_dir,
            "where every stage writes: tokens/, teacher/, features/, students/, report/, logs/");
    v.field("glue_dir", glue_dir, "GLUE data: GLUE_DIR/<TASK>/train.tsv, dev.tsv, test.tsv");
    v.field("vocab", vocab, "the WordPiece vocab.txt that tokenize uses");
    v.field("configs", configs,
            "directory of tokenize.toml, cache.toml and <TASK>/teacher.toml, <TASK>/student.toml");
    v.field("teacher_init", teacher_init,
            "pretrained HuggingFace directory the teachers are fine-tuned from and (unless "
            "student_init) the students start from, e.g. /models/bert-base-uncased (\"\" = "
            "finetune.init of the teacher configs)");
    v.field("teacher", teacher,
            "an existing teacher per task, {task} replaced (\"\" = fine-tune one per task)");
    v.field("student_init", student_init,
            "distill.student_init of every run: a pretrained HuggingFace directory (the paper's "
            "initialisation), teacher (the fine-tuned teacher's layers: a warmer start, not the "
            "paper's) or random (\"\" = teacher_init; both \"\" = the student configs' value)");
    v.field("stages", stages,
            "stages to submit: tokenize, teacher, cache, distill, report (later stages of an "
            "earlier sweep reuse its outputs)");
    v.field("common", common,
            "axes \"key=v1,v2,...\" crossed with every group (PKD, KD, fine-tuned), first in "
            "the run names, e.g. \"distill.student_layers=6,3\"");
    v.field("grid", grid,
            "PKD axes \"key=v1,v2,...\" (keys of pkd distill's config); the runs are their cross "
            "product (with common); [] = one run with the configs' values");
    v.field("kd", kd, "axes of the vanilla KD runs (distill.loss.beta = 0 forced); [] = none");
    v.field("baseline", baseline,
            "axes of the fine-tuned student baseline runs (alpha = beta = 0 forced, no teacher); "
            "[] = none");
    v.field("set", set,
            "\"key=value\" overrides of every distillation run (after the distill.teacher and "
            "distill.student_init the sweep derives, before each run's axes; later ones win)");
    v.table("slurm", slurm, "Slurm submission settings");
  }
  // Checks every key, and that a task's distillation runs (sweep/runs.h) fit in one Slurm array.
  void validate() const;
  bool has_stage(const std::string& stage) const;
};

}  // namespace pkd::sweep
