#include "sweep/plan.h"

#include <filesystem>

#include "core/error.h"
#include "core/strings.h"

namespace pkd::sweep {
namespace {

namespace fs = std::filesystem;

std::string absolute(const std::string& path) {
  return fs::absolute(fs::path(path)).lexically_normal().string();
}

std::string replace_task(std::string text, const std::string& task) {
  for (std::size_t at; (at = text.find("{task}")) != std::string::npos;) text.replace(at, 6, task);
  return text;
}

// distill.student_init of every run: sweep.student_init, else the pretrained teacher_init (the
// paper's initialisation); "" = leave the student configs' value.
std::string student_init(const SweepConfig& c) {
  const std::string& init = c.student_init.empty() ? c.teacher_init : c.student_init;
  if (init.empty() || init == "teacher" || init == "random") return init;
  return absolute(init);
}

void add(std::vector<std::string>& argv, const std::string& option, const std::string& value) {
  argv.push_back(option + "=" + value);
}

std::vector<std::string> sets(const std::vector<std::string>& assignments) {
  std::vector<std::string> out;
  for (const auto& a : assignments) {
    out.push_back("--set");
    out.push_back(a);
  }
  return out;
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_=.,/:@%+") == std::string::npos)
    return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::vector<Job> plan_sweep(const SweepConfig& c, const std::string& root) {
  c.validate();
  const SweepKeys& keys = sweep_keys();
  const std::string work = absolute(c.work_dir), configs = absolute(c.configs);
  const std::string init = student_init(c);
  const DistillRuns runs = c.has_stage("distill") ? distill_runs(c) : DistillRuns{};
  const std::string scripts = absolute(root) + "/jobs/slurm/";
  std::vector<Job> jobs;
  auto make = [&](const std::string& stage, const std::string& task,
                  const StageResources& r) -> Job& {
    Job j;
    j.key = task.empty() ? stage : stage + ":" + task;
    j.stage = stage;
    j.task = task;
    j.script = scripts + stage + ".sbatch";
    add(j.sbatch, "--job-name", c.name + "-" + stage + (task.empty() ? "" : "-" + task));
    add(j.sbatch, "--chdir", work);
    add(j.sbatch, "--nodes", std::to_string(r.nodes));
    add(j.sbatch, "--ntasks-per-node", std::to_string(r.ntasks_per_node));
    add(j.sbatch, "--cpus-per-task", std::to_string(r.cpus_per_task));
    if (r.gpus_per_node > 0) add(j.sbatch, "--gpus-per-node", std::to_string(r.gpus_per_node));
    add(j.sbatch, "--time", r.time);
    if (!r.mem.empty()) add(j.sbatch, "--mem", r.mem);
    if (!c.slurm.partition.empty()) add(j.sbatch, "--partition", c.slurm.partition);
    if (!c.slurm.account.empty()) add(j.sbatch, "--account", c.slurm.account);
    if (!c.slurm.qos.empty()) add(j.sbatch, "--qos", c.slurm.qos);
    add(j.sbatch, "--signal", "B:USR1@" + std::to_string(c.slurm.signal_seconds));
    add(j.sbatch, "--export",
        "ALL,PKD_ROOT=" + absolute(root) + ",PKD_LAUNCHER=" + c.slurm.launcher +
            ",PKD_GPUS_PER_NODE=" + std::to_string(r.gpus_per_node));
    for (const auto& a : c.slurm.sbatch_args) j.sbatch.push_back(a);
    jobs.push_back(std::move(j));
    return jobs.back();
  };
  std::vector<std::string> ends;  // what the report waits for
  for (const auto& task : c.tasks) {
    const std::string teacher_model =
        c.teacher.empty() ? "teacher/" + task + "/model" : absolute(replace_task(c.teacher, task));
    auto after = [&](const std::string& stage) {
      return c.has_stage(stage) ? std::vector<std::string>{stage + ":" + task}
                                : std::vector<std::string>{};
    };
    // The tokenize.* and cache_teacher.* keys stay strings: their structs live in
    // preprocess/tokenize_config.h (the top-level preprocess library) and
    // inference/cache_teacher.h (includes LibTorch), which this torch-free library must not use.
    if (c.has_stage("tokenize")) {
      Job& j = make("tokenize", task, c.slurm.tokenize);
      j.args = {configs + "/tokenize.toml"};
      for (const auto& a :
           sets({"tokenize.task=" + task, "tokenize.data_dir=" + absolute(c.glue_dir) + "/" + task,
                 "tokenize.vocab=" + absolute(c.vocab), "tokenize.out=tokens/" + task}))
        j.args.push_back(a);
    }
    if (c.has_stage("teacher") && c.teacher.empty()) {
      Job& j = make("teacher", task, c.slurm.teacher);
      j.args = {configs + "/" + task + "/teacher.toml"};
      if (!c.teacher_init.empty())
        for (const auto& a : sets({keys.finetune_init + "=" + absolute(c.teacher_init)}))
          j.args.push_back(a);
      j.after_ok = after("tokenize");
      ends.push_back(j.key);
    }
    if (c.has_stage("cache")) {
      Job& j = make("cache", task, c.slurm.cache);
      j.args = {configs + "/cache.toml"};
      for (const auto& a : sets({"cache_teacher.model=" + teacher_model,
                                 "cache_teacher.tokens=tokens/" + task + "/train",
                                 "cache_teacher.out=features/" + task + "/train"}))
        j.args.push_back(a);
      j.after_ok = after("tokenize");
      if (c.teacher.empty())
        for (const auto& k : after("teacher")) j.after_ok.push_back(k);
    }
    if (c.has_stage("distill")) {
      Job& j = make("distill", task, c.slurm.distill);
      j.args = {configs + "/" + task + "/student.toml"};
      // Every run: the derived teacher and initialisation, then sweep.set (later --set wins).
      std::vector<std::string> every;
      if (!c.teacher.empty()) every.push_back(keys.teacher + "=" + teacher_model);
      if (!init.empty()) every.push_back(keys.student_init + "=" + init);
      every.insert(every.end(), c.set.begin(), c.set.end());
      for (const auto& a : sets(every)) j.args.push_back(a);
      for (const auto& p : runs.runs) {  // one line per array element: its axes, its directory
        std::string l;
        for (const auto& a : sets(p.sets)) l += (l.empty() ? "" : "\t") + a;
        j.grid_lines.push_back(l + (l.empty() ? "" : "\t") + "--output-dir\tstudents/" + task +
                               "/" + p.name);
      }
      j.grid_file = work + "/sweep/" + task + "/distill.grid";
      std::string range = "0-" + std::to_string(j.grid_lines.size() - 1);
      if (c.slurm.max_parallel > 0) range += "%" + std::to_string(c.slurm.max_parallel);
      add(j.sbatch, "--array", range);
      for (auto& s : j.sbatch)  // the grid file travels in the environment
        if (starts_with(s, "--export=")) s += ",PKD_GRID=" + j.grid_file;
      j.after_ok = after("cache");
      ends.push_back(j.key);
    }
  }
  if (c.has_stage("report")) {
    Job& j = make("report", "", c.slurm.report);
    j.args = {"--runs", "teacher", "--runs", "students", "--out", "report"};
    j.after_any = ends;
  }
  for (auto& j : jobs) {
    const bool array = !j.grid_lines.empty();
    add(j.sbatch, "--output", work + "/logs/%x-" + (array ? "%A_%a" : "%j") + ".out");
  }
  return jobs;
}

std::vector<std::string> sbatch_argv(const Job& job, const std::vector<std::string>& after_ok_ids,
                                     const std::vector<std::string>& after_any_ids) {
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  argv.insert(argv.end(), job.sbatch.begin(), job.sbatch.end());
  std::string dependency;
  if (!after_ok_ids.empty()) dependency = "afterok:" + join(after_ok_ids, ":");
  if (!after_any_ids.empty())
    dependency +=
        (dependency.empty() ? "" : ",") + std::string("afterany:") + join(after_any_ids, ":");
  if (!dependency.empty()) {
    argv.push_back("--dependency=" + dependency);
    // A failed dependency cancels this job instead of leaving it pending forever, whatever the
    // cluster's DependencyParameters say.
    argv.push_back("--kill-on-invalid-dep=yes");
  }
  argv.push_back(job.script);
  argv.insert(argv.end(), job.args.begin(), job.args.end());
  return argv;
}

std::string sbatch_command(const Job& job, const std::vector<std::string>& after_ok_ids,
                           const std::vector<std::string>& after_any_ids) {
  std::string out;
  for (const auto& word : sbatch_argv(job, after_ok_ids, after_any_ids)) {
    const bool variable = word.find('$') != std::string::npos;
    out += (out.empty() ? "" : " ") + (variable ? "\"" + word + "\"" : shell_quote(word));
  }
  return out;
}

}  // namespace pkd::sweep
