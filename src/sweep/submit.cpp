#include "sweep/submit.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/fs.h"
#include "core/strings.h"

namespace pkd::sweep {
namespace {

// "teacher:SST-2" -> "teacher_SST_2": the dry run's shell variable of a job id.
std::string variable(const std::string& key) {
  std::string v;
  for (char c : key) v += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return v;
}

std::vector<std::string> ids(const std::vector<std::string>& keys,
                             const std::map<std::string, std::string>& id_of) {
  std::vector<std::string> out;
  for (const auto& k : keys) out.push_back(id_of.at(k));
  return out;
}

}  // namespace

CommandOutput run_command(const std::vector<std::string>& argv) {
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0)
    fail("cannot create a pipe to run ", argv[0], ": ", std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) fail("cannot fork to run ", argv[0], ": ", std::strerror(errno));
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandOutput r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP))) continue;
      char buffer[4096];
      const ssize_t n = read(fds[k].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[k]->append(buffer, static_cast<std::size_t>(n));
      } else {
        close(fds[k].fd);
        fds[k].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::vector<SubmittedJob> submit_sweep(const std::vector<Job>& jobs, const std::string& work_dir,
                                       bool dry_run, std::ostream& out) {
  std::map<std::string, std::string> id_of;
  std::vector<SubmittedJob> submitted;
  if (dry_run) {
    out << "#!/usr/bin/env bash\n# pkd sweep --dry-run: the jobs a submission would create, in "
           "order.\nset -euo pipefail\n";
    for (const auto& j : jobs) {
      id_of[j.key] = "$" + variable(j.key);
      out << "\n# " << j.key;
      if (!j.grid_lines.empty()) {
        out << ": array of " << j.grid_lines.size() << " runs; " << j.grid_file
            << " (one line per SLURM_ARRAY_TASK_ID):\n";
        for (std::size_t i = 0; i < j.grid_lines.size(); ++i)
          out << "#   " << i << "\t" << j.grid_lines[i] << "\n";
      } else {
        out << "\n";
      }
      out << variable(j.key) << "=$("
          << sbatch_command(j, ids(j.after_ok, id_of), ids(j.after_any, id_of)) << ")\n";
    }
    return submitted;
  }
  make_directories(work_dir + "/logs");
  auto cancel_all = [&] {
    if (submitted.empty()) return;
    std::vector<std::string> argv = {"scancel"};
    for (const auto& s : submitted) argv.push_back(s.id);
    run_command(argv);
  };
  for (const auto& j : jobs) {
    if (!j.grid_lines.empty()) {
      std::string text;
      for (std::size_t i = 0; i < j.grid_lines.size(); ++i)
        text += std::to_string(i) + "\t" + j.grid_lines[i] + "\n";
      make_directories(j.grid_file.substr(0, j.grid_file.rfind('/')));
      write_file_atomic(j.grid_file, text);
    }
    auto argv = sbatch_argv(j, ids(j.after_ok, id_of), ids(j.after_any, id_of));
    CommandOutput r = run_command(argv);
    const std::string id(trim(r.out.substr(0, r.out.find(';'))));
    if (r.status != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
      cancel_all();
      fail("sbatch refused job '", j.key, "' (exit status ", r.status,
           "): ", trim(r.err.empty() ? r.out : r.err), submitted.empty() ? "" : "; cancelled the ",
           submitted.empty() ? "" : std::to_string(submitted.size()) + " jobs already submitted",
           "\n  command: ", sbatch_command(j, ids(j.after_ok, id_of), ids(j.after_any, id_of)));
    }
    id_of[j.key] = id;
    submitted.push_back({j.key, id});
    out << j.key << "\t" << id
        << (j.grid_lines.empty() ? "" : "\t(array of " + std::to_string(j.grid_lines.size()) + ")")
        << "\n";
  }
  return submitted;
}

}  // namespace pkd::sweep
