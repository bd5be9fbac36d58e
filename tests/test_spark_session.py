"""spark_session.session_conf: a job's settings hold for its run only, in a session that is not its own."""

from __future__ import annotations

import pytest

from churn_pipeline.spark_session import session_conf

SET_BEFORE = "spark.sql.codegen.hugeMethodLimit"
NOT_SET_BEFORE = "spark.churn.test.session_conf"


def test_the_settings_hold_inside_and_each_key_is_set_back_as_it_was_even_on_failure(spark):
    spark.conf.set(SET_BEFORE, "65535")
    spark.conf.unset(NOT_SET_BEFORE)
    settings = {SET_BEFORE: "8000", NOT_SET_BEFORE: "on"}
    with session_conf(spark, settings):
        assert {key: spark.conf.get(key) for key in settings} == settings
    assert spark.conf.get(SET_BEFORE) == "65535"
    assert spark.conf.get(NOT_SET_BEFORE, None) is None

    with pytest.raises(RuntimeError, match="the job failed"), session_conf(spark, settings):
        raise RuntimeError("the job failed")
    assert (spark.conf.get(SET_BEFORE), spark.conf.get(NOT_SET_BEFORE, None)) == ("65535", None)
    spark.conf.unset(SET_BEFORE)
