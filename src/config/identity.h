#pragma once
// What a saved configuration means, independent of how it is written: its settings as
// "table.key" -> canonical TOML value, with comments, order, spacing and number spelling gone.
// The trainer compares a checkpoint's config.toml with the current settings this way, so that
// rewording a help string (the doc comments of the effective config) or adding a key at its
// default never makes a newer build refuse an older checkpoint.
#include <map>
#include <set>
#include <string>
#include <vector>

namespace pkd::config {

using Settings = std::map<std::string, std::string>;  // "distill.loss.alpha" -> "0.5"

// Every leaf value of a TOML document by dotted key. `name` names the text in syntax errors.
Settings settings_of(const std::string& toml_text, const std::string& name);

// "key = value" lines, sorted, without the `ignored` keys: the text a run's identity hashes.
std::string identity_text(const Settings& settings, const std::set<std::string>& ignored);

// How `saved` (a checkpoint's) differs from `current`, one "key: saved X, now Y" line per key,
// `ignored` keys skipped. A key `saved` lacks is taken at its value in `defaults` (an option
// added since the checkpoint was written, at its default, changes nothing); a key only `saved`
// has (an option since removed) is not compared.
std::vector<std::string> differences(const Settings& saved, const Settings& current,
                                     const Settings& defaults,
                                     const std::set<std::string>& ignored);

}  // namespace pkd::config
