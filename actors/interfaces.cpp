#include "actors/interfaces.hpp"

#include <caf/actor_system_config.hpp>

#include "core/error.hpp"

namespace ts {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<new_task>("ts.new_task");
  cfg.add_message_type<task_record>("ts.task_record");
  cfg.add_message_type<task_view>("ts.task_view");
  cfg.add_message_type<claim>("ts.claim");
  cfg.add_message_type<process_start>("ts.process_start");
  cfg.add_message_type<run_outcome>("ts.run_outcome");
  cfg.add_message_type<pending_entry>("ts.pending_entry");
  cfg.add_message_type<std::vector<pending_entry>>("ts.pending_entries");
  cfg.add_message_type<orphan_run>("ts.orphan_run");
  cfg.add_message_type<process_exit>("ts.process_exit");
  cfg.add_message_type<coordinator_stats>("ts.coordinator_stats");
  cfg.add_message_type<label>("ts.label");
  cfg.add_message_type<run_info>("ts.run_info");
  cfg.add_message_type<task_info>("ts.task_info");
  cfg.add_message_type<task_filter>("ts.task_filter");
  cfg.add_message_type<task_page>("ts.task_page");
  cfg.add_message_type<run_filter>("ts.run_filter");
  cfg.add_message_type<run_page>("ts.run_page");
  cfg.add_message_type<output_slice>("ts.output_slice");
  cfg.add_message_type<task_change>("ts.task_change");
  cfg.add_message_type<task_edit>("ts.task_edit");
  cfg.add_message_type<request_key>("ts.request_key");
  cfg.add_message_type<retry_policy>("ts.retry_policy");
  cfg.add_message_type<task_controls>("ts.task_controls");
  add_error_category(cfg);
}

} // namespace ts
